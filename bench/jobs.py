"""Benchmark: the job engine under load, with the bot as a real `python -m bot` process.

Run from the repository root:  .venv/bin/python -m bench.jobs
Everything runs on 127.0.0.1 against the test fakes (tests/fakes): a real discord.py client logs in
to the fake Discord's gateway and REST, and calls the fake relay. Each scenario starts its own fakes
and its own bot process; the fakes and this driver share the machine's cores with the bot, so every
number includes their cost too. It prints a Markdown table.

(a) intake:   100 /imagine sent at once (100 members); INTERACTION_CREATE sent -> defer callback received
(a2)          the same with USER_DAILY_BUDGET, USER_MONTHLY_BUDGET and GUILD_MONTHLY_BUDGET set
(b) throughput: 200 jobs, an upstream taking 2 s per call, MAX_CONCURRENT_JOBS=8 -> all 200 delivered
(c) memory:   50 /edit jobs on a ~20 MB picture, all held at the relay at once -> the bot's peak RSS
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.fakes.discord import Call, FakeDiscord, SentInteraction, user
from tests.fakes.relay import FakeRelay

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.bench-token"  # the fake checks nothing  # noqa: S105
FIRST_MEMBER = 300_000_000_000_000_000

INTAKE_JOBS = 100
THROUGHPUT_JOBS = 200
THROUGHPUT_SLOTS = 8
UPSTREAM_SECONDS = 2.0
MEMORY_JOBS = 50


@dataclass
class Row:
    scenario: str
    measured: str
    target: str
    met: bool


# --- the bot process and its fakes ----------------------------------------------------------------


@dataclass
class Rig:
    discord: FakeDiscord
    relay: FakeRelay
    process: asyncio.subprocess.Process
    log: Path


@contextlib.asynccontextmanager
async def rig(**env: str) -> AsyncIterator[Rig]:
    """Both fakes and a `python -m bot` connected to them; the bot is stopped on the way out."""
    discord_fake, relay = FakeDiscord(), FakeRelay()
    await discord_fake.start()
    await relay.start()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
        environ = {
            **keep,
            "DISCORD_TOKEN": TOKEN,
            "API_KEY": "sk-bench",
            "API_BASE_URL": relay.base_url,
            "MODELS": "gemini-2.5-flash-image",
            "DATA_DIR": str(Path(tmp) / "data"),
            "LOG_LEVEL": "INFO",
            "DISCORD_API_URL": discord_fake.api_url,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "SHUTDOWN_GRACE": "1",
            **env,
        }
        log = Path(tmp) / "bot.log"
        with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the bot
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=environ, cwd=tmp, stdout=sink, stderr=sink
            )
        try:
            await asyncio.wait_for(discord_fake.ready.wait(), 60)
            yield Rig(discord_fake, relay, process, log)
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            await relay.close()
            await discord_fake.close()


def member(i: int) -> dict[str, object]:
    return user(str(FIRST_MEMBER + i), f"member{i}")


def is_result(call: Call) -> bool:
    return call.method == "PATCH" and "/webhooks/" in call.path and bool(call.files)


def token_of(call: Call) -> str:
    # /api/v10/webhooks/{app}/{token}/messages/{mid} and /api/v10/interactions/{iid}/{token}/callback
    return call.path.split("/")[5]


async def collect(
    discord_fake: FakeDiscord, match: Callable[[Call], bool], tokens: set[str], timeout: float
) -> dict[str, Call]:
    """The first matching call for each token, polled cheaply (no waiter rescans every call)."""
    found: dict[str, Call] = {}
    seen, deadline = 0, time.monotonic() + timeout
    while len(found) < len(tokens):
        calls = discord_fake.calls
        for call in calls[seen:]:
            if match(call):
                token = token_of(call)
                if token in tokens and token not in found:
                    found[token] = call
        seen = len(calls)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {len(tokens)} arrived within {timeout:.0f} s")
        await asyncio.sleep(0.02)
    return found


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (clock-tick resolution, usually 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- (a) defer latency ------------------------------------------------------------------------------


# (a2): the same burst with every money budget set, so each command's budget check (three sums in
# the journal) runs before its defer; none of them is reached.
BUDGETS = {"USER_DAILY_BUDGET": "100", "USER_MONTHLY_BUDGET": "1000", "GUILD_MONTHLY_BUDGET": "100000"}


async def intake(label: str = "(a)", **extra: str) -> tuple[list[Row], str]:
    env = {"MAX_CONCURRENT_JOBS": "8", "MAX_QUEUE_LENGTH": "10000", "MAX_JOBS_PER_USER": "100", **extra}
    async with rig(**env) as r:
        r.relay.delay = UPSTREAM_SECONDS
        # One job first, so imports and first connections are not counted against the burst.
        warm = await r.discord.send_interaction(r.discord.slash("imagine", {"prompt": "warm up"}))
        await collect(r.discord, is_result, {warm.token}, 30)

        payloads = [
            r.discord.slash("imagine", {"prompt": f"a banana boat, take {i}"}, member=member(i))
            for i in range(INTAKE_JOBS)
        ]
        await asyncio.sleep(0.5)  # let the warm-up job's last calls settle
        cpu_before = cpu_seconds(r.process.pid)
        sent: list[SentInteraction] = []
        for payload in payloads:
            sent.append(await r.discord.send_interaction(payload))
        callbacks = await collect(
            r.discord, lambda c: c.path.endswith("/callback"), {s.token for s in sent}, 30
        )
        cpu = cpu_seconds(r.process.pid) - cpu_before
    burst = max(c.at for c in callbacks.values()) - sent[0].sent_at
    deferred = [callbacks[s.token].payload == {"type": 5} for s in sent]
    assert all(deferred), "every command must be deferred, none refused"
    latencies = [(callbacks[s.token].at - s.sent_at) * 1000 for s in sent]
    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    note = (
        f"{label}: first send to last defer {burst * 1000:.0f} ms, in which the bot used about "
        f"{cpu * 1000:.0f} ms of CPU ({cpu * 1000 / INTAKE_JOBS:.1f} ms per command)."
    )
    return [
        Row(
            f"{label} {INTAKE_JOBS} /imagine at once{' with budgets set' if extra else ''}: "
            "INTERACTION_CREATE to defer, p50 / p99 (max)",
            f"{p50:.0f} / {p99:.0f} ms ({max(latencies):.0f} ms)",
            "p99 ≤ 50 ms",
            p99 <= 50,
        )
    ], note


# --- (b) throughput -------------------------------------------------------------------------------


async def throughput(**extra: str) -> list[Row]:
    env = {
        "MAX_CONCURRENT_JOBS": str(THROUGHPUT_SLOTS),
        "MAX_QUEUE_LENGTH": "10000",
        "MAX_JOBS_PER_USER": "100",
        **extra,
    }
    async with rig(**env) as r:
        warm = await r.discord.send_interaction(r.discord.slash("imagine", {"prompt": "warm up"}))
        await collect(r.discord, is_result, {warm.token}, 30)
        r.relay.delay = UPSTREAM_SECONDS
        r.relay.peak_in_flight = 0

        started = time.monotonic()
        sent = [
            await r.discord.send_interaction(
                r.discord.slash("imagine", {"prompt": f"a pear, take {i}"}, member=member(i))
            )
            for i in range(THROUGHPUT_JOBS)
        ]
        results = await collect(r.discord, is_result, {s.token for s in sent}, 150)
        wall = max(c.at for c in results.values()) - started
        peak = r.relay.peak_in_flight
    ideal = THROUGHPUT_JOBS / THROUGHPUT_SLOTS * UPSTREAM_SECONDS
    return [
        Row(
            f"(b) {THROUGHPUT_JOBS} jobs, upstream {UPSTREAM_SECONDS:g} s, {THROUGHPUT_SLOTS} slots: "
            f"first send to last result (ideal {ideal:.0f} s)",
            f"{wall:.1f} s ({wall / ideal:.0%} of ideal)",
            "≤ 110 % of ideal",
            wall <= 1.10 * ideal,
        ),
        Row(
            "(b) upstream calls in flight at once (relay.peak_in_flight)",
            str(peak),
            f"= {THROUGHPUT_SLOTS}",
            peak == THROUGHPUT_SLOTS,
        ),
    ]


# --- (c) memory -----------------------------------------------------------------------------------


def big_photo() -> bytes:
    """A 6800x4500 photo-like JPEG at quality 97 with heavy grain: about 20 MiB, 30.6 MP."""
    width, height = 6800, 4500
    base = Image.radial_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 60)
    img = Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=97)
    return buffer.getvalue()


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


async def memory() -> tuple[list[Row], str]:
    picture = big_photo()
    env = {
        # Every job holds a slot, so all 50 are in flight at the relay together (the worst case).
        "MAX_CONCURRENT_JOBS": str(MEMORY_JOBS),
        "MAX_QUEUE_LENGTH": "10000",
        "MAX_JOBS_PER_USER": "100",
        "MAX_INPUT_MB": "30",
    }
    async with rig(**env) as r:
        pid = r.process.pid
        idle = memory_kib(pid, "VmRSS")
        samples: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(memory_kib(pid, "VmRSS"))
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        r.relay.hold = asyncio.Event()
        sent = []
        for i in range(MEMORY_JOBS):
            image = r.discord.attachment(f"photo{i}.jpg", picture, "image/jpeg")
            payload = r.discord.slash("edit", {"image": image, "prompt": "make it autumn"}, member=member(i))
            sent.append(await r.discord.send_interaction(payload))
        deadline = time.monotonic() + 120
        while r.relay.in_flight < MEMORY_JOBS:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {r.relay.in_flight} of {MEMORY_JOBS} reached the relay")
            await asyncio.sleep(0.05)
        held = r.relay.in_flight
        await asyncio.sleep(1.0)  # all held: sample a while
        held_rss = memory_kib(pid, "VmRSS")
        r.relay.hold.set()
        await collect(r.discord, is_result, {s.token for s in sent}, 60)
        sampler.cancel()
        hwm = memory_kib(pid, "VmHWM")
    peak_sampled = max(samples)
    note = (
        f"Picture for (c): {len(picture) / 2**20:.1f} MiB JPEG, 6800x4500; the bot's RSS when idle "
        f"after start: {idle / 1024:.0f} MiB; with all {held} calls held at the relay: "
        f"{held_rss / 1024:.0f} MiB."
    )
    return [
        Row(
            f"(c) {MEMORY_JOBS} /edit jobs in flight on a {len(picture) / 2**20:.0f} MiB picture: "
            "peak RSS of the bot (VmHWM; highest VmRSS sample)",
            f"{hwm / 1024:.0f} MiB ({peak_sampled / 1024:.0f} MiB)",
            "≤ 300 MB",
            hwm * 1024 <= 300 * 10**6,
        )
    ], note


async def main() -> None:
    started = time.monotonic()
    rows, intake_note = await intake()
    budget_rows, budget_note = await intake("(a2)", **BUDGETS)
    rows += budget_rows
    intake_note += "\n" + budget_note
    rows += await throughput()
    memory_rows, memory_note = await memory()
    rows += memory_rows
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; bot = `python -m bot` subprocess on the fakes (127.0.0.1)\n"
    )
    print("| scenario | measured | target | met |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.scenario} | {row.measured} | {row.target} | {'yes' if row.met else '**no**'} |")
    print(f"\n{intake_note}\n{memory_note}\nWhole run: {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    asyncio.run(main())
