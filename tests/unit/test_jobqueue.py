"""The job queue (SAQ) on a real Redis and a real PostgreSQL: one entry per job, Cancel reaching the
worker that runs it, a killed worker's job taken up by another, and the journal's open jobs put back
into a queue that lost them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.jobqueue import TERMINAL, JobQueue, QueueStats
from tests.conftest import SOURCE_ROOT
from tests.servers import RedisServer, new_database, start_redis

WAIT = 20.0


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def status_becomes(queue: JobQueue, job_id: int, status: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while (seen := await queue.status(job_id)) != status:
        assert time.monotonic() < deadline, f"job {job_id} is {seen}, not {status}"
        await asyncio.sleep(0.02)


async def ended(queue: JobQueue, job_id: int, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while (seen := await queue.status(job_id)) not in TERMINAL:
        assert time.monotonic() < deadline, f"job {job_id} is {seen}, not over"
        await asyncio.sleep(0.02)


@pytest.fixture(params=["redis", "postgresql"])
async def queue_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "redis":
        yield request.getfixturevalue("redis_server").url
        return
    async with new_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def queue_name() -> str:
    return f"q{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def opened() -> AsyncIterator[Callable[..., JobQueue]]:
    made: list[JobQueue] = []

    def make(url: str, name: str, heartbeat: int = 1) -> JobQueue:
        queue = JobQueue.from_url(url, name=name, heartbeat=heartbeat)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.close()


class Runs:
    """What a worker was asked to run; each run waits for its job's gate."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.overlaps: list[int] = []  # a job run while it already ran: never allowed
        self.started: list[int] = []
        self.finished: list[int] = []
        self.cancelled: list[int] = []
        self.gates: dict[int, asyncio.Event] = {}
        # Jobs the journal holds as cancelled: a worker's caller checks it before running a job.
        self.journal_cancelled: set[int] = set()
        self.skipped: list[int] = []

    def gate(self, job_id: int) -> asyncio.Event:
        return self.gates.setdefault(job_id, asyncio.Event())

    async def __call__(self, job_id: int) -> None:
        if job_id in self.journal_cancelled:
            self.skipped.append(job_id)
            return
        if job_id in self.running:
            self.overlaps.append(job_id)
        self.running.add(job_id)
        self.started.append(job_id)
        try:
            await self.gate(job_id).wait()
        except asyncio.CancelledError:
            self.cancelled.append(job_id)
            raise
        finally:
            self.running.discard(job_id)
        self.finished.append(job_id)


async def test_a_job_put_twice_is_one_entry_and_runs_once(
    queue_url: str, queue_name: str, opened: Callable[..., JobQueue]
) -> None:
    queue = opened(queue_url, queue_name)
    await queue.connect()
    assert await queue.put(7) is True
    assert await queue.put(7) is False  # a double click, a gateway retry: still one entry
    assert await queue.stats() == QueueStats(waiting=1, running=0)
    runs = Runs()
    worker = queue.worker(runs, concurrency=2)
    await worker.start()
    try:
        await until(lambda: runs.started == [7], "the job to start")
        assert await queue.put(7) is False  # running: still one
        runs.gate(7).set()
        await until(lambda: runs.finished == [7], "the job to finish")
        await status_becomes(queue, 7, "complete")
    finally:
        await worker.stop()
    assert runs.started == [7] and not runs.overlaps


async def test_cancel_reaches_the_worker_running_the_job(
    queue_url: str, queue_name: str, opened: Callable[..., JobQueue]
) -> None:
    gateway = opened(queue_url, queue_name)
    await gateway.connect()
    working = opened(queue_url, queue_name)
    await working.connect()
    runs = Runs()
    worker = working.worker(runs, concurrency=1)
    await worker.start()
    try:
        await gateway.put(1)
        await gateway.put(2)
        await until(lambda: runs.started == [1], "the first job to start")
        # A Cancel is journaled first, then told to the queue.
        runs.journal_cancelled |= {1, 2}
        assert await gateway.cancel(2) is True  # still waiting
        assert await gateway.cancel(1) is True  # running in the worker: its task is cancelled
        await until(lambda: runs.cancelled == [1], "the running job to be cancelled")
        # The worker's task ends before SAQ records the abort: wait for the record, not the task.
        await ended(gateway, 1)
        assert await gateway.cancel(1) is False  # over
        await gateway.put(3)
        runs.gate(3).set()
        await until(lambda: runs.finished == [3], "the next job to run")
        # SAQ's PostgreSQL queue may have fetched the waiting job into the worker before the cancel,
        # and then hands it to the worker anyway: the journal's word stops it there.
        assert runs.started == [1, 3] and runs.cancelled == [1] and set(runs.skipped) <= {2}
    finally:
        await worker.stop()


WORKER_SCRIPT = """
import asyncio, sys
from bot.jobqueue import JobQueue

async def main(url, name):
    queue = JobQueue.from_url(url, name=name, heartbeat=1)
    await queue.connect()

    async def run(job_id):
        print(f"running {job_id}", flush=True)
        await asyncio.Event().wait()

    await queue.worker(run, concurrency=1).start()
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_killed_workers_job_is_taken_up_by_another_once_its_heartbeat_stops(
    queue_url: str, queue_name: str, opened: Callable[..., JobQueue]
) -> None:
    queue = opened(queue_url, queue_name)
    await queue.connect()
    await queue.put(5)
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SCRIPT, queue_url, queue_name, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert doomed.stdout is not None
        line = await asyncio.wait_for(doomed.stdout.readline(), WAIT)
        assert line.decode().strip() == "running 5"
    finally:
        with contextlib.suppress(ProcessLookupError):
            doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    assert await queue.status(5) == "active"  # nobody told the queue: only the heartbeat stops
    runs = Runs()
    runs.gate(5).set()
    worker = queue.worker(runs, concurrency=1)
    await worker.start()
    try:
        await until(lambda: runs.finished == [5], "another worker to take the job up", timeout=30)
    finally:
        await worker.stop()
    assert runs.started == [5] and not runs.overlaps


@pytest.fixture
def own_redis() -> AsyncIterator[RedisServer]:
    server = start_redis()
    yield server  # type: ignore[misc]
    server.stop(remove=True)


async def test_jobs_a_restarted_redis_lost_are_put_back_from_the_journal(
    own_redis: RedisServer, queue_name: str, opened: Callable[..., JobQueue]
) -> None:
    queue = opened(own_redis.url, queue_name)
    await queue.connect()
    await queue.put(1)
    await queue.put(2)
    own_redis.stop()
    own_redis.start()  # empty, as a Redis without persistence comes back
    queue = opened(own_redis.url, queue_name)
    await queue.connect()
    assert await queue.stats() == QueueStats(0, 0)
    await queue.put(2)  # one the gateway put in again meanwhile
    # The journal's open jobs: 1 and 2 (and 3, which the queue never had).
    assert await queue.restore([1, 2, 3]) == [1, 3]
    runs = Runs()
    for job_id in (1, 2, 3):
        runs.gate(job_id).set()
    worker = queue.worker(runs, concurrency=3)
    await worker.start()
    try:
        await until(lambda: sorted(runs.finished) == [1, 2, 3], "the jobs to run")
    finally:
        await worker.stop()
    assert sorted(runs.started) == [1, 2, 3]


def test_the_queue_library_is_imported_only_when_a_queue_is_made() -> None:
    code = "import sys, bot.jobqueue, bot.ui.client; print('saq' in sys.modules)"
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(SOURCE_ROOT)},
        capture_output=True, text=True, check=True, cwd=Path(SOURCE_ROOT),
    )  # fmt: skip
    assert out.stdout.strip() == "False"
