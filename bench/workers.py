"""Benchmark: one gateway and N worker processes on PostgreSQL and Redis (issue 16, "Benchmark").

Run from the repository root:  .venv/bin/python bench/workers.py   (or -m bench.workers)
Everything runs on 127.0.0.1: the test fakes (tests/fakes), a PostgreSQL with its durable defaults
and a Redis without persistence, both started here from the machine's binaries (tests/servers.py),
and the bot's processes from this tree (PYTHONPATH). Each run has its own fakes, database, Redis and
processes; they all share the machine's cores, so every number includes their cost. It prints a
Markdown table and a few notes.

(t) throughput: 400 /imagine from 20 members, an upstream taking 2 s per call, each worker at
    MAX_CONCURRENT_JOBS=8, GLOBAL_MAX_CONCURRENT_JOBS unset: first send -> last result, with 1, 2
    and 4 workers (`python -m bot worker`) behind one gateway (`python -m bot gateway`), against
    the ideal 400 / (8 N) x 2 s; the relay's peak of calls in flight; each worker's peak RSS.
(d) defer latency: 100 /imagine at once (100 members): INTERACTION_CREATE sent -> defer callback
    recorded, at a gateway (with one worker) and at a one-process bot on the same PostgreSQL.

Options: --workers 1,2,4 (the worker counts of (t)), --no-defer (only (t)). BENCH_KEEP_LOGS=DIR
copies every process's log of each run into DIR, for looking into a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, not the repository
    sys.path.insert(0, str(ROOT))

from bench.jobs import (  # noqa: E402
    TOKEN,
    Row,
    collect,
    cpu_seconds,
    is_result,
    member,
    memory_kib,
    percentile,
    token_of,
)
from tests.fakes.discord import FakeDiscord, SentInteraction  # noqa: E402
from tests.fakes.relay import FakeRelay  # noqa: E402
from tests.servers import PostgresServer, RedisServer, new_database, start_postgres, start_redis  # noqa: E402

JOBS = 400
MEMBERS = 20
SLOTS = 8
UPSTREAM_SECONDS = 2.0
WORKER_COUNTS = (1, 2, 4)
DEFER_JOBS = 100
TARGET = 1.10  # of the ideal
KEEP_LOGS = os.environ.get("BENCH_KEEP_LOGS", "")  # a folder: each run's process logs are copied there


# --- the machine ----------------------------------------------------------------------------------


def cpu_ticks() -> tuple[int, int]:
    """The whole machine's busy and total CPU ticks since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Load:
    """How busy the machine was during one run, and how much of it was the bot's processes."""

    started: float = field(default_factory=time.monotonic)
    ticks: tuple[int, int] = field(default_factory=cpu_ticks)
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def done(self, own_cpu: float) -> str:
        busy, total = (a - b for a, b in zip(cpu_ticks(), self.ticks, strict=True))
        wall = time.monotonic() - self.started
        cores = os.cpu_count() or 1
        return (
            f"machine busy {busy / max(total, 1):.0%} of {cores} cores over {wall:.1f} s "
            f"(the bot's processes: {own_cpu / wall / cores:.0%}); load average {self.load_before:.2f} "
            f"before, {os.getloadavg()[0]:.2f} after"
        )


# --- the processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    role: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Cluster:
    discord: FakeDiscord
    relay: FakeRelay
    url: str
    env: dict[str, str]
    tmp: Path
    procs: list[Proc] = field(default_factory=list)

    async def start(self, role: str | None, **extra: str) -> Proc:
        log = self.tmp / f"{role or 'all'}-{len(self.procs)}.log"
        args = [role] if role else []
        with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the process
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *args, env={**self.env, **extra}, cwd=self.tmp,
                stdout=sink, stderr=sink,
            )  # fmt: skip
        proc = Proc(role or "all", process, log)
        self.procs.append(proc)
        return proc

    async def ready(self, timeout: float = 60) -> None:
        """The gateway connected to the fake Discord; a process that exits meanwhile fails the run."""
        deadline = time.monotonic() + timeout
        while not self.discord.ready.is_set():
            ended = [p for p in self.procs if p.process.returncode is not None]
            if ended or time.monotonic() > deadline:
                raise RuntimeError(f"not ready: {[(p.role, p.process.returncode) for p in ended]}")
            await asyncio.sleep(0.05)

    def workers(self) -> list[Proc]:
        return [p for p in self.procs if p.role == "worker"]

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs if p.process.returncode is None)

    async def live_workers(self, count: int, timeout: float = 60) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                seen = await conn.fetchval(
                    "SELECT COUNT(*) FROM workers WHERE seen_at > extract(epoch from clock_timestamp()) - 10"
                )
                if int(seen) >= count:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{seen} of {count} workers heard from")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def stop(self) -> None:
        for p in self.procs:
            if p.process.returncode is None:
                p.process.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                await asyncio.wait_for(p.process.wait(), 30)
            except TimeoutError:
                p.process.kill()
                await p.process.wait()


@contextlib.asynccontextmanager
async def cluster(pg: PostgresServer, redis: RedisServer | None, **env: str) -> AsyncIterator[Cluster]:
    """The fakes, a new database (and the Redis) for one run; every process is stopped on the way out."""
    discord_fake, relay = FakeDiscord(), FakeRelay()
    await discord_fake.start()
    await relay.start()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        async with new_database(pg) as url:
            keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
            environ = {
                **keep,
                "PYTHONPATH": str(ROOT),  # this tree's bot, not whichever one is installed
                "DISCORD_TOKEN": TOKEN,
                "API_KEY": "sk-bench",
                "API_BASE_URL": relay.base_url,
                "MODELS": "gemini-2.5-flash-image",
                "DATA_DIR": str(Path(tmp) / "data"),  # one volume for every process, as in compose
                "LOG_LEVEL": "INFO",
                "DISCORD_API_URL": discord_fake.api_url,
                "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
                "SHUTDOWN_GRACE": "1",
                "DATABASE_URL": url,
                "MAX_CONCURRENT_JOBS": str(SLOTS),
                "MAX_QUEUE_LENGTH": "10000",
                "MAX_JOBS_PER_USER": "100",  # the most it may be; 20 members send 20 each
                **({"QUEUE_URL": redis.url} if redis else {}),
                **env,
            }
            group = Cluster(discord_fake, relay, url, environ, Path(tmp))
            try:
                yield group
            except BaseException:
                for p in group.procs:
                    sys.stderr.write(f"--- {p.role} {p.pid}\n{p.log.read_text(errors='replace')[-3000:]}")
                raise
            finally:
                await group.stop()
                if KEEP_LOGS:  # for looking into a run: every process's log, kept
                    keep_dir = Path(KEEP_LOGS) / Path(tmp).name
                    keep_dir.mkdir(parents=True, exist_ok=True)
                    for p in group.procs:
                        (keep_dir / p.log.name).write_bytes(p.log.read_bytes())
                await relay.close()
                await discord_fake.close()


async def send_all(discord_fake: FakeDiscord, count: int, members: int, what: str) -> list[SentInteraction]:
    return [
        await discord_fake.send_interaction(
            discord_fake.slash("imagine", {"prompt": f"{what}, take {i}"}, member=member(i % members))
        )
        for i in range(count)
    ]


# --- (t) throughput -------------------------------------------------------------------------------


@dataclass
class Timeline:
    """The relay's calls in flight, sampled every 10 ms: where a run's time went."""

    relay: FakeRelay
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (at, in flight, calls)

    async def sample(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.relay.in_flight, len(self.relay.calls)))
            await asyncio.sleep(0.01)

    def summary(self, start: float, end: float, slots: int, jobs: int) -> str:
        started = [at for at, _, n in self.samples if n > self.samples[0][2]]
        if not started:
            return "no call seen"
        first = started[0]
        busy = [at for at, flying, _ in self.samples if flying > 0]
        last_end = busy[-1]
        span = [(a, f) for a, f, _ in self.samples if first <= a <= last_end]
        area = sum(f * (b - a) for (a, f), (b, _) in itertools.pairwise(span))
        idle = slots * (last_end - first) - area
        return (
            f"first send to first upstream call {(first - start) * 1000:.0f} ms; last call's end to "
            f"last result {(end - last_end) * 1000:.0f} ms; in between the slots were busy "
            f"{area / (slots * (last_end - first)):.1%} of the time, {idle / jobs * 1000:.0f} ms idle "
            "per job between one call and the next"
        )


@dataclass
class Throughput:
    workers: int
    wall: float
    ideal: float
    peak: int
    worker_hwm_kib: list[int]
    gateway_hwm_kib: int
    cpu: dict[str, float]
    load: str
    where: str
    calls: int  # upstream calls the relay saw for the JOBS jobs (more: a job run twice)


async def throughput(pg: PostgresServer, workers: int, upload_delay: float = 0.0) -> Throughput:
    redis = start_redis()
    try:
        async with cluster(pg, redis) as c:
            gateway = await c.start("gateway")
            for _ in range(workers):
                await c.start("worker")
            await c.ready()
            await c.live_workers(workers)
            # Warm-up without upstream delay: imports and first connections are not counted.
            warm = await send_all(c.discord, SLOTS * workers, MEMBERS, "warm up")
            await collect(c.discord, is_result, {s.token for s in warm}, 60)
            await asyncio.sleep(1.0)  # let the warm-up's last edits and releases settle
            c.relay.delay = UPSTREAM_SECONDS
            c.relay.peak_in_flight = 0
            c.discord.upload_delay = upload_delay
            cpu_before = {p.role + str(i): cpu_seconds(p.pid) for i, p in enumerate(c.procs)}
            load = Load()

            timeline = Timeline(c.relay)
            sampler = asyncio.create_task(timeline.sample())
            sent = await send_all(c.discord, JOBS, MEMBERS, "a pear")
            ideal = JOBS / (SLOTS * workers) * UPSTREAM_SECONDS
            found = await collect(c.discord, is_result, {s.token for s in sent}, ideal * 3 + 60)
            sampler.cancel()
            end = max(call.at for call in found.values())
            wall = end - sent[0].sent_at
            where = timeline.summary(sent[0].sent_at, end, SLOTS * workers, JOBS)

            cpu = {
                p.role + str(i): cpu_seconds(p.pid) - cpu_before[p.role + str(i)]
                for i, p in enumerate(c.procs)
            }
            load_note = load.done(sum(cpu.values()))
            hwm = [memory_kib(p.pid, "VmHWM") for p in c.workers()]
            gateway_hwm = memory_kib(gateway.pid, "VmHWM")
            peak = c.relay.peak_in_flight
            calls = len(c.relay.generate_calls()) - SLOTS * workers  # the warm-up's are one each
            posted = [token_of(call) for call in c.discord.calls if is_result(call)]
            assert len(posted) == len(set(posted)), "each result posted once"
    finally:
        redis.stop(remove=True)
    return Throughput(workers, wall, ideal, peak, hwm, gateway_hwm, cpu, load_note, where, calls)


# --- (d) defer latency ----------------------------------------------------------------------------


@dataclass
class Defer:
    mode: str
    latencies: list[float]
    burst: float
    cpu: float
    load: str


async def defer(pg: PostgresServer, split: bool) -> Defer:
    redis = start_redis() if split else None
    try:
        async with cluster(pg, redis) as c:
            front = await c.start("gateway" if split else None)
            if split:
                await c.start("worker")
            await c.ready()
            if split:
                await c.live_workers(1)
            warm = await c.discord.send_interaction(c.discord.slash("imagine", {"prompt": "warm up"}))
            await collect(c.discord, is_result, {warm.token}, 60)
            c.relay.delay = UPSTREAM_SECONDS
            payloads = [
                c.discord.slash("imagine", {"prompt": f"a banana boat, take {i}"}, member=member(i))
                for i in range(DEFER_JOBS)
            ]
            await asyncio.sleep(1.0)  # let the warm-up's last calls settle
            load = Load()
            cpu_before, cpu_all = cpu_seconds(front.pid), c.cpu()
            sent = [await c.discord.send_interaction(p) for p in payloads]
            callbacks = await collect(
                c.discord, lambda call: call.path.endswith("/callback"), {s.token for s in sent}, 30
            )
            cpu = cpu_seconds(front.pid) - cpu_before
            load_note = load.done(c.cpu() - cpu_all)
    finally:
        if redis is not None:
            redis.stop(remove=True)
    assert all(callbacks[s.token].payload == {"type": 5} for s in sent), "every command deferred"
    latencies = [(callbacks[s.token].at - s.sent_at) * 1000 for s in sent]
    burst = max(call.at for call in callbacks.values()) - sent[0].sent_at
    mode = "gateway (`python -m bot gateway`, 1 worker)" if split else "one process (`python -m bot`)"
    return Defer(mode, latencies, burst, cpu, load_note)


# --- the report -----------------------------------------------------------------------------------


async def main(counts: tuple[int, ...], with_defer: bool, upload_delay: float) -> None:
    started = time.monotonic()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    pg = start_postgres(durable=True)
    try:
        runs = []
        for n in counts:
            runs.append(await throughput(pg, n, upload_delay))
            print(f"  throughput, {n} worker(s): {runs[-1].wall:.1f} s; {runs[-1].where}", flush=True)
        defers = [await defer(pg, split=True), await defer(pg, split=False)] if with_defer else []
    finally:
        pg.stop()

    rows: list[Row] = []
    for r in runs:
        rows.append(
            Row(
                f"(t) {JOBS} jobs, upstream {UPSTREAM_SECONDS:g} s, {r.workers} worker(s) x {SLOTS} slots: "
                f"first send to last result (ideal {r.ideal:.0f} s)",
                f"{r.wall:.1f} s ({r.wall / r.ideal:.0%} of ideal)",
                "≤ 110 % of ideal",
                r.wall <= TARGET * r.ideal,
            )
        )
        rows.append(
            Row(
                f"(t) {r.workers} worker(s): upstream calls for the {JOBS} jobs",
                str(r.calls),
                f"= {JOBS}",
                r.calls == JOBS,
            )
        )
        rows.append(
            Row(
                f"(t) {r.workers} worker(s): upstream calls in flight at once (relay.peak_in_flight)",
                str(r.peak),
                f"= {SLOTS * r.workers}",
                r.peak == SLOTS * r.workers,
            )
        )
    for r in runs:
        rows.append(
            Row(
                f"(t) {r.workers} worker(s): peak RSS of a worker (VmHWM, the highest of its workers)",
                f"{max(r.worker_hwm_kib) / 1024:.0f} MiB",
                "(reported)",
                True,
            )
        )
    for d in defers:
        p50, p95, p99 = (percentile(d.latencies, p) for p in (50, 95, 99))
        rows.append(
            Row(
                f"(d) {DEFER_JOBS} /imagine at once, {d.mode}: INTERACTION_CREATE to defer, "
                "p50 / p95 / p99 (max)",
                f"{p50:.0f} / {p95:.0f} / {p99:.0f} ms ({max(d.latencies):.0f} ms)",
                "(against one process)",
                True,
            )
        )
    if len(runs) > 1:
        base = runs[0].wall
        speedups = ", ".join(f"{r.workers}: {base / r.wall:.2f}x" for r in runs[1:])
    else:
        speedups = "-"

    print("\n| scenario | measured | target | met |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.scenario} | {row.measured} | {row.target} | {'yes' if row.met else '**no**'} |")
    print(f"\nSpeed-up over one worker: {speedups}.")
    for r in runs:
        cpu = ", ".join(f"{k} {v:.1f} s" for k, v in r.cpu.items())
        print(
            f"(t) {r.workers} worker(s): CPU during the run: {cpu}; gateway peak RSS "
            f"{r.gateway_hwm_kib / 1024:.0f} MiB; workers' peak RSS "
            f"{', '.join(f'{k / 1024:.0f}' for k in r.worker_hwm_kib)} MiB; {r.load}."
        )
    for d in defers:
        print(
            f"(d) {d.mode}: first send to last defer {d.burst * 1000:.0f} ms, in which that process "
            f"used about {d.cpu * 1000:.0f} ms of CPU ({d.cpu * 1000 / DEFER_JOBS:.1f} ms per command), "
            f"median {statistics.median(d.latencies):.0f} ms; {d.load}."
        )
    print(f"Whole run: {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default=",".join(map(str, WORKER_COUNTS)), help="e.g. 1,2,4")
    parser.add_argument("--no-defer", action="store_true", help="only the throughput runs")
    parser.add_argument(
        "--upload-delay",
        type=float,
        default=0.0,
        help="seconds the fake Discord takes to answer each result upload (default 0)",
    )
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.workers.split(",") if n)
    asyncio.run(main(counts, not args.no_defer, args.upload_delay))
