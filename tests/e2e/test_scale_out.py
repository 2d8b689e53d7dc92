"""One gateway and worker processes (`python -m bot gateway`, `python -m bot worker`) on a real
PostgreSQL journal and a real Redis queue, against the fake Discord and the fake relay: jobs in fair
turns under the global caps, each delivered once; a worker killed mid-job; Cancel across processes;
a double click; Redis restarted empty mid-run."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import private_error, wait_result
from tests.e2e.test_health import get
from tests.e2e.test_jobs import ALICE, BOB, answer, press_cancel, wait_cancelled, wait_progress
from tests.e2e.test_process import environment, spawn
from tests.e2e.test_restart import BotProcess, bad_log_lines, results
from tests.e2e.test_result_buttons import press
from tests.e2e.test_shards import GUILD_ON_0, GUILD_ON_1
from tests.fakes.discord import FakeDiscord, SentInteraction, user
from tests.fakes.relay import FakeRelay
from tests.fakes.relay.midjourney import mj_success
from tests.servers import RedisServer, free_port, start_redis

MEMBERS = [user(f"20000000000000{n:04d}", f"member{n}") for n in range(10)]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis of this test's own: some tests stop and start it."""
    server = start_redis()
    yield server
    server.stop(remove=True)


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Any]:
    import asyncpg

    conn = await asyncpg.connect(postgres_url)
    yield conn
    await conn.close()


class Cluster:
    """The processes of one test, all stopped at its end (SIGKILL after a while)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.processes: list[BotProcess] = []

    async def start(self, role: str, **extra: str) -> BotProcess:
        process = BotProcess(await spawn({**self.env, **extra}, self.cwd, role))
        self.processes.append(process)
        return process

    async def stop_all(self) -> list[int]:
        return list(await asyncio.gather(*(p.stop(signal.SIGTERM) for p in self.processes)))

    def logs(self) -> str:
        return "\n".join(f"--- process {i}\n{p.log.text}" for i, p in enumerate(self.processes))


@pytest.fixture
async def cluster(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, postgres_url: str, redis: RedisServer
) -> AsyncIterator[Cluster]:
    env = environment(
        discord_fake,
        relay,
        tmp_path,
        DATABASE_URL=postgres_url,
        QUEUE_URL=redis.url,
        WORKER_HEARTBEAT_SECONDS="2",
        LOG_LEVEL="INFO",
    )
    group = Cluster(env, tmp_path)
    yield group
    await group.stop_all()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def live_workers(pg: Any, count: int) -> None:
    async def enough() -> bool:
        seen = await pg.fetchval(
            "SELECT COUNT(*) FROM workers WHERE seen_at > extract(epoch from clock_timestamp()) - 2"
        )
        return int(seen) >= count

    await eventually(enough, f"{count} live workers")


def member_of(call: Any) -> str:
    text = call.body["contents"][-1]["parts"][0]["text"]
    return str(text.split()[0])


async def test_a_gateway_and_two_workers_serve_100_jobs_fairly_under_the_caps_each_once(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    relay.delay = 0.2
    relay.hold = asyncio.Event()
    caps = {"GLOBAL_MAX_CONCURRENT_JOBS": "4", "CONCURRENCY_LIMITS": "gemini-3-pro-image-preview=1"}
    limits = {"MAX_JOBS_PER_USER": "10", "MAX_QUEUE_LENGTH": "100", **caps}
    await cluster.start("gateway", **limits)
    for _ in range(2):
        await cluster.start("worker", MAX_CONCURRENT_JOBS="3", **caps)
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 2)
    sent: list[SentInteraction] = []
    for member in MEMBERS:
        for n in range(10):
            options = {"prompt": f"{member['username']} picture {n}"}
            if n % 5 == 4:
                options["model"] = "gemini-3-pro-image-preview"
            sent.append(
                await discord_fake.send_interaction(discord_fake.slash("imagine", options, member=member))
            )
    await until(lambda: relay.in_flight == 4, "four calls at once")
    relay.hold.set()
    for one in sent:
        await until(lambda one=one: bool(results(discord_fake.calls, one)), f"the result of {one.token}", 60)
    codes = await cluster.stop_all()
    assert codes == [0, 0, 0], cluster.logs()
    assert not bad_log_lines(cluster.logs()), cluster.logs()
    for one in sent:
        assert len(results(discord_fake.calls, one)) == 1
    assert relay.peak_in_flight == 4
    assert relay.peak_by_model["gemini-3-pro-image-preview"] == 1
    calls = relay.generate_calls()
    assert len(calls) == 100
    # Fair turns: member0's ten commands came first, yet the first twenty calls serve every member
    # (first in, first out would have made them member0's ten and member1's ten).
    first = collections.Counter(member_of(c) for c in calls[:20])
    assert set(first) == {m["username"] for m in MEMBERS}, first
    assert max(first.values()) <= 6, first


async def journal_row(pg: Any, job_id: int = 1) -> dict[str, Any]:
    row = await pg.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
    return dict(row) if row is not None else {}


async def test_a_worker_killed_mid_job_is_replaced_and_its_midjourney_task_followed_by_id(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    mj = {"MODELS": "gemini-2.5-flash-image,midjourney", "MJ_POLL_SECONDS": "0.3"}
    await cluster.start("gateway", **mj)
    first = await cluster.start("worker", **mj)
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    sent = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "a koi pond", "model": "midjourney"})
    )
    await until(lambda: bool(relay.calls_to("/mj/task/")), "the task polled")
    task_id = relay.calls_to("/mj/task/")[0].path.split("/")[3]
    relay.mj_tasks[task_id].states = [{"status": "IN_PROGRESS", "progress": "50%", "imageUrl": None}]

    async def task_journaled() -> bool:
        return (await journal_row(pg)).get("upstream_task") == task_id

    await eventually(task_journaled, "the task id in the journal")
    held_by = (await journal_row(pg))["held_by"]
    await cluster.start("worker", **mj)
    await live_workers(pg, 2)
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    killed = time.monotonic()
    polls = len(relay.calls_to("/mj/task/"))
    # The other worker takes it up once the heartbeat is missed, and polls the same task.
    await until(lambda: len(relay.calls_to("/mj/task/")) > polls, "the task polled by the other worker")
    relay.mj_tasks[task_id].states = [mj_success(relay, task_id, "IMAGINE")]
    await wait_result(discord_fake, sent, timeout=60)
    taken_up = time.monotonic() - killed
    assert taken_up < 60, taken_up

    async def delivered() -> bool:
        row = await journal_row(pg)
        return row["status"] == "done" and row["delivered_at"] is not None

    await eventually(delivered, "the delivery journaled")
    assert (await journal_row(pg))["held_by"] != held_by, "another worker finished it"
    assert len(relay.calls_to("/mj/submit/")) == 1, "the task is followed by its id, not submitted again"
    await until(lambda: len(results(discord_fake.calls, sent)) >= 1, "the result")
    codes = await cluster.stop_all()
    assert codes[0] == 0 and codes[2] == 0, cluster.logs()
    assert len(results(discord_fake.calls, sent)) == 1


async def test_cancel_pressed_at_the_gateway_stops_the_job_in_its_worker(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    relay.hold = asyncio.Event()
    await cluster.start("gateway")
    await cluster.start("worker", MAX_CONCURRENT_JOBS="1")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    running = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "one"}))
    await until(lambda: relay.in_flight == 1, "the call under way")
    await wait_progress(discord_fake, running, "🎨")  # shown by the worker, with its Cancel button

    press = await press_cancel(discord_fake, running)
    edit = await wait_cancelled(discord_fake, running)
    assert edit.payload["content"] == f"✖️ Cancelled by <@{ALICE['id']}>."
    assert edit.payload["components"] == []
    callback = discord_fake.callback(press)
    assert callback is not None and callback.payload == {"type": 6}

    async def cancelled() -> bool:
        row = await journal_row(pg)
        return row["status"] == "cancelled" and row["cancelled_by"] == int(ALICE["id"])

    await eventually(cancelled, "the cancel journaled")
    # Its slot is free: the worker's one slot takes the next job.
    relay.hold.set()
    second = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "two"}))
    await wait_result(discord_fake, second, timeout=30)
    assert not [c for c in discord_fake.calls_for(running.token) if c.files]
    assert await cluster.stop_all() == [0, 0], cluster.logs()


async def test_a_workers_slot_is_free_once_the_picture_is_made_not_once_it_is_posted(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    # As in one process: posting a result to Discord holds no slot, so the next job's upstream call
    # does not wait for the upload.
    discord_fake.hold_uploads = asyncio.Event()
    await cluster.start("gateway")
    await cluster.start("worker", MAX_CONCURRENT_JOBS="1")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    first = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "one"}))
    await until(lambda: any(c.files for c in discord_fake.calls_for(first.token)), "the first result posting")
    second = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "two"}, member=BOB))
    await until(lambda: len(relay.generate_calls()) == 2, "the second call while the first result is held")
    discord_fake.hold_uploads.set()
    await wait_result(discord_fake, first, timeout=30)
    await wait_result(discord_fake, second, timeout=30)
    assert relay.peak_in_flight == 1
    assert await cluster.stop_all() == [0, 0], cluster.logs()
    assert [len(results(discord_fake.calls, one)) for one in (first, second)] == [1, 1]
    released = await pg.fetchval("SELECT COUNT(*) FROM jobs WHERE released_at IS NOT NULL")
    assert released == 2, "each job let go once it was posted"


async def test_a_double_click_on_a_result_button_is_one_job(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    await cluster.start("gateway")
    await cluster.start("worker")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "a cabin"}))
    await wait_result(discord_fake, sent, timeout=30)
    relay.hold = asyncio.Event()
    first = await press(discord_fake, sent.token, "Vary (Subtle)")
    await until(lambda: relay.in_flight == 1, "the variation under way")
    second = await press(discord_fake, sent.token, "Vary (Subtle)")
    assert await private_error(discord_fake, second) == (
        "That's already on its way: your picture from this button is being made."
    )
    relay.hold.set()
    await wait_result(discord_fake, first, timeout=30)
    assert len(relay.generate_calls()) == 2
    assert await pg.fetchval("SELECT COUNT(*) FROM jobs") == 2
    assert await cluster.stop_all() == [0, 0], cluster.logs()


async def test_redis_restarted_empty_loses_no_job_and_commands_wait_for_it(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any, redis: RedisServer
) -> None:
    relay.hold = asyncio.Event()
    gateway = await cluster.start("gateway")
    first = await cluster.start("worker", MAX_CONCURRENT_JOBS="1", SHUTDOWN_GRACE="0")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "kept"}))
    await until(lambda: relay.in_flight == 1, "the call under way")
    # The worker stops mid-job: it gives the job back, and the queue holds its entry again ...
    assert await first.stop(signal.SIGTERM) == 0, first.log.text

    async def given_back() -> bool:
        row = await journal_row(pg)
        return row.get("status") == "queued" and row["held_by"] is None and row["dispatched_at"] is not None

    await eventually(given_back, "the job given back")
    # ... and then Redis, without persistence, restarts empty: the entry is gone.
    redis.stop()
    await gateway.log.wait_for("The queue does not answer")
    refused = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "later"}))
    assert await private_error(discord_fake, refused) == (
        "The bot can't reach its database right now. Try again in a minute."
    )
    redis.start()
    await gateway.log.wait_for("The queue answers again")
    relay.hold.set()
    await cluster.start("worker")
    await wait_result(discord_fake, sent, timeout=60)
    again = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "after"}))
    await wait_result(discord_fake, again, timeout=30)
    assert "The queue had lost 1 jobs the journal holds" in gateway.log.text
    codes = await cluster.stop_all()
    assert codes == [0, 0, 0], cluster.logs()
    assert len(results(discord_fake.calls, sent)) == 1
    assert await pg.fetchval("SELECT COUNT(*) FROM jobs") == 2


async def test_status_and_healthz_show_the_workers_and_the_queue(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    relay.hold = asyncio.Event()
    gateway_port, worker_port = free_port(), free_port()
    await cluster.start("gateway", HEALTH_PORT=str(gateway_port), GLOBAL_MAX_CONCURRENT_JOBS="1")
    doomed = await cluster.start("worker", MAX_CONCURRENT_JOBS="2", HEALTH_PORT=str(worker_port))
    await cluster.start("worker", MAX_CONCURRENT_JOBS="3")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 2)
    running = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "one"}))
    await until(lambda: relay.in_flight == 1, "the first call under way")
    waiting = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "two"}, member=BOB)
    )
    await wait_progress(discord_fake, waiting, "⏳")  # its place, shown by the gateway

    async def fields() -> dict[str, str]:
        status = await discord_fake.send_interaction(discord_fake.slash("status"))
        (embed,) = (await answer(discord_fake, status))["embeds"]
        return {f["name"]: f["value"] for f in embed["fields"]}

    async def workers_counted() -> bool:
        # Each worker's line comes from its heartbeat, a moment behind its jobs.
        lines = (await fields())["Workers"].splitlines()
        shown = sorted(re.fullmatch(r".+:\d+: (\d) of (\d) running", line).groups() for line in lines)  # type: ignore[union-attr]
        return sorted(slots for _, slots in shown) == ["2", "3"] and sum(int(n) for n, _ in shown) == 1

    await eventually(workers_counted, "both workers in /status, one job running")
    # GLOBAL_MAX_CONCURRENT_JOBS holds the bot to 1 slot, under its workers' 5.
    assert (await fields())["Queue"] == "1 running of 1 · 1 waiting"

    code, body = await get(gateway_port, "/healthz")
    health = json.loads(body)
    assert code == 200 and health["role"] == "gateway", health
    assert health["queue"] == {"depth": 1, "running": 1}, health
    assert sorted(w["concurrency"] for w in health["workers"]) == [2, 3]
    assert all(w["alive"] for w in health["workers"])
    code, body = await get(worker_port, "/healthz")
    assert code == 200 and json.loads(body)["role"] == "worker", body

    # A worker killed: /status says so, its heartbeat gone.
    assert await doomed.stop(signal.SIGKILL) == -signal.SIGKILL

    async def one_gone() -> bool:
        lines = (await fields())["Workers"].splitlines()
        gone = [line for line in lines if "not heard from since <t:" in line]
        return len(lines) == 2 and len(gone) == 1 and f":{doomed.process.pid}:" in gone[0] + ":"

    await eventually(one_gone, "the killed worker shown as gone")
    relay.hold.set()
    await wait_result(discord_fake, running, timeout=60)
    await wait_result(discord_fake, waiting, timeout=60)


async def test_a_running_job_finishes_and_is_recorded_while_redis_is_away(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any, redis: RedisServer
) -> None:
    relay.hold = asyncio.Event()
    gateway = await cluster.start("gateway")
    worker = await cluster.start("worker")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "through"}))
    await until(lambda: relay.in_flight == 1, "the call under way")
    redis.stop()
    await gateway.log.wait_for("The queue does not answer")
    relay.hold.set()
    await wait_result(discord_fake, sent, timeout=30)

    async def recorded() -> bool:
        row = await journal_row(pg)
        return (
            row.get("status") == "done" and row["delivered_at"] is not None and row["released_at"] is not None
        )

    await eventually(recorded, "the job recorded done and let go")
    redis.start()
    await gateway.log.wait_for("The queue answers again")
    again = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "after"}))
    await wait_result(discord_fake, again, timeout=30)
    assert worker.process.returncode is None and gateway.process.returncode is None
    assert await cluster.stop_all() == [0, 0], cluster.logs()
    # The outage is told in single lines, not a traceback for every poll of the queue.
    assert "Traceback" not in cluster.logs()


async def test_a_gateway_killed_loses_no_job_and_its_workers_go_on(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    relay.hold = asyncio.Event()
    one_at_a_time = {"GLOBAL_MAX_CONCURRENT_JOBS": "1"}
    first = await cluster.start("gateway", **one_at_a_time)
    await cluster.start("worker")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    running = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "one"}))
    await until(lambda: relay.in_flight == 1, "the first call under way")
    waiting = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "two"}, member=BOB)
    )
    await wait_progress(discord_fake, waiting, "⏳")
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    # The worker goes on with the job it holds, gateway or not.
    relay.hold.set()
    await wait_result(discord_fake, running, timeout=30)
    assert len(relay.generate_calls()) == 1, "the waiting job stays in the journal meanwhile"
    discord_fake.ready.clear()
    second = await cluster.start("gateway", **one_at_a_time)
    await wait_result(discord_fake, waiting, timeout=60)
    assert "Resuming 1 jobs from the journal" in second.log.text
    assert len(results(discord_fake.calls, running)) == 1 and len(results(discord_fake.calls, waiting)) == 1
    assert len(relay.generate_calls()) == 2
    codes = await cluster.stop_all()
    assert codes[1:] == [0, 0], cluster.logs()


async def test_a_stopping_worker_lets_its_job_finish_within_the_grace(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    relay.hold = asyncio.Event()
    await cluster.start("gateway", USER_DAILY_LIMIT="1")
    worker = await cluster.start("worker", SHUTDOWN_GRACE="60")
    await asyncio.wait_for(discord_fake.ready.wait(), 30)
    await live_workers(pg, 1)
    sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "finish me"}))
    await until(lambda: relay.in_flight == 1, "the call under way")
    worker.process.send_signal(signal.SIGTERM)
    await worker.log.wait_for("Received SIGTERM")
    relay.hold.set()
    await wait_result(discord_fake, sent, timeout=30)
    assert await worker.exit() == 0, worker.log.text
    row = await journal_row(pg)
    assert (
        row["status"] == "done" and row["held_by"] == f"{row['held_by'].split(':')[0]}:{worker.process.pid}"
    )
    assert len(relay.generate_calls()) == 1
    # The daily limit reads the journal: the gateway counts the job the worker made.
    refused = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "one more"}))
    assert (await private_error(discord_fake, refused)).startswith(
        "You've made your 1 picture for today (1 used)"
    )


async def test_two_sharded_gateways_share_the_workers_and_each_resumes_its_own_servers(
    discord_fake: FakeDiscord, relay: FakeRelay, cluster: Cluster, pg: Any
) -> None:
    discord_fake.max_concurrency = 2
    relay.hold = asyncio.Event()
    sharded = {"SHARD_COUNT": "2", "GLOBAL_MAX_CONCURRENT_JOBS": "1"}
    first = await cluster.start("gateway", SHARD_IDS="0", **sharded)
    second = await cluster.start("gateway", SHARD_IDS="1", **sharded)
    await cluster.start("worker")
    await discord_fake.wait_shards((0, 2), (1, 2))
    await live_workers(pg, 1)
    on_0 = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "zero"}, guild_id=GUILD_ON_0)
    )
    await until(lambda: relay.in_flight == 1, "shard 0's job under way")
    # The other gateway's job waits: the one slot is the whole bot's, whichever gateway asks.
    on_1 = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "one"}, guild_id=GUILD_ON_1)
    )
    await wait_progress(discord_fake, on_1, "⏳")
    assert await second.stop(signal.SIGKILL) == -signal.SIGKILL
    relay.hold.set()
    await wait_result(discord_fake, on_0, timeout=30)
    # Shard 0's gateway, restarted, leaves shard 1's job alone (it resumes before it logs in) ...
    assert await first.stop(signal.SIGTERM) == 0, first.log.text
    again = await cluster.start("gateway", SHARD_IDS="0", **sharded)
    await again.log.wait_for("Logged in as")
    assert "Resuming" not in again.log.text
    assert len(relay.generate_calls()) == 1
    # ... and shard 1's next gateway takes it back.
    third = await cluster.start("gateway", SHARD_IDS="1", **sharded)
    await wait_result(discord_fake, on_1, timeout=60)
    assert "Resuming 1 jobs from the journal" in third.log.text
    assert discord_fake.undelivered == []
    assert len(relay.generate_calls()) == 2
