"""The job queue between gateway and worker processes: SAQ on Redis or PostgreSQL (the `queue` extra).

The journal (`JobStore`) stays the source of truth: the queue only tells the workers which journaled
job to take up, and keeps track of which worker runs it.

- One entry per job, keyed by its journal id (`job-<id>`): putting a job in twice (a gateway
  retrying, the sweeper below) is one entry while it waits or runs.
- A running job's heartbeat is refreshed a few times per `heartbeat` seconds by the worker running
  it. When that worker dies (SIGKILL, a lost machine), the heartbeat stops; any other worker's sweep
  finds the entry stuck after `heartbeat` seconds and hands it to a worker again (SAQ's retry).
- `cancel` aborts the entry: SAQ cancels the job's task in whichever worker runs it.
- `restore` puts back the journal's open jobs that the queue no longer holds (a Redis without
  persistence restarted empty): the key makes it a no-op for the ones still there.

SAQ is imported only here, and only when a queue is made: the default one-process bot never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bot.postgres import StoreUnreachable, where

if TYPE_CHECKING:
    from saq import Queue, Worker

log = logging.getLogger(__name__)

RUN = "bananabot.run"
# How often one job may be taken up again after its worker died before the queue gives up on it
# (the journal still holds it: the sweeper of the journal puts it back).
RETRIES = 5
# Finished entries are kept this long (seconds) for the queue's own bookkeeping.
KEEP_FINISHED = 600
TERMINAL = ("complete", "failed", "aborted")


def job_key(job_id: int) -> str:
    return f"job-{job_id}"


@dataclass(frozen=True)
class QueueStats:
    waiting: int  # entries no worker has taken yet
    running: int  # entries a worker holds


class JobQueue:
    def __init__(self, queue: Queue, *, heartbeat: int = 10) -> None:
        self.queue = queue
        self.heartbeat = max(1, int(heartbeat))

    @classmethod
    def from_url(cls, url: str, *, name: str = "bananabot", heartbeat: int = 10) -> JobQueue:
        """A queue on `redis://…` or `postgresql://…` (SAQ's own tables in that database)."""
        from saq import Queue

        return cls(Queue.from_url(url, name=name), heartbeat=heartbeat)

    async def connect(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.queue.disconnect()

    async def put(self, job_id: int) -> bool:
        """Queue a journaled job; False when it is queued or running already."""
        from saq import Job

        entry = Job(
            RUN,
            kwargs={"job_id": job_id},
            key=job_key(job_id),
            timeout=0,  # the engine keeps JOB_TIMEOUT itself; the heartbeat tells a live worker
            heartbeat=self.heartbeat,
            retries=RETRIES,
            ttl=KEEP_FINISHED,
        )
        return await self.queue.enqueue(entry) is not None

    async def cancel(self, job_id: int) -> bool:
        """Stop the job wherever it is: out of the queue, or cancelled in its worker. False when the
        queue holds no open entry for it."""
        entry = await self.queue.job(job_key(job_id))
        if entry is None or _status(entry) in TERMINAL:
            return False
        await self.queue.abort(entry, "cancelled")
        return True

    async def status(self, job_id: int) -> str | None:
        """SAQ's word for the entry (queued, active, complete …), or None when it holds none."""
        entry = await self.queue.job(job_key(job_id))
        return None if entry is None else _status(entry)

    async def stats(self) -> QueueStats:
        return QueueStats(await self.queue.count("queued"), await self.queue.count("active"))

    async def restore(self, job_ids: Iterable[int]) -> list[int]:
        """Put back the journal's open jobs the queue lost; the ids that were missing."""
        return [job_id for job_id in job_ids if await self.put(job_id)]

    def worker(
        self, run: Callable[[int], Awaitable[None]], *, concurrency: int, grace: float = 0.0
    ) -> QueueWorker:
        return QueueWorker(self, run, concurrency=concurrency, grace=grace)


async def probe(url: str, timeout: float = 5.0) -> str:
    """Whether the queue at `url` answers one cheap call (Redis PING, PostgreSQL `SELECT 1`), changing
    nothing; the engine's name. Raise `StoreUnreachable` (never naming the password) when it cannot be
    used. For `python -m bot check`."""
    engine = "Redis" if urlsplit(url).scheme.startswith("redis") else "PostgreSQL"
    place = f"QUEUE_URL: {engine} at {where(url)}"
    try:
        import saq  # noqa: F401 - not used by the probe, but gateways and workers cannot start without it

        ping, errors = _redis_ping() if engine == "Redis" else _postgres_ping()
    except ImportError as exc:
        raise StoreUnreachable(
            "QUEUE_URL is set but the queue library is not installed: pip install '.[queue]'"
        ) from exc
    try:
        async with asyncio.timeout(timeout):
            await ping(url, timeout)
    except TimeoutError as exc:
        raise StoreUnreachable(f"{place} did not answer within {timeout:g} s") from exc
    except (OSError, *errors) as exc:
        text = str(exc)
        password = urlsplit(url).password or ""
        for secret in {password, unquote(password)} - {""}:  # as written in the URL, and as sent
            text = text.replace(secret, "***")
        raise StoreUnreachable(f"{place} cannot be used ({type(exc).__name__}: {text})") from exc
    return engine


_Ping = Callable[[str, float], Awaitable[None]]


def _redis_ping() -> tuple[_Ping, tuple[type[Exception], ...]]:
    from redis.asyncio import from_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    async def ping(url: str, timeout: float) -> None:
        # Tried once, as every probe of `check` (redis-py retries three times by default); the
        # caller's time limit, a second shorter, is the one that ends a silent server.
        client = from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=timeout + 1, socket_timeout=timeout + 1
        )
        try:
            await client.ping()
        finally:
            await client.aclose()

    return ping, (RedisError,)


def _postgres_ping() -> tuple[_Ping, tuple[type[Exception], ...]]:
    import psycopg

    async def ping(url: str, timeout: float) -> None:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            await conn.execute("SELECT 1")

    return ping, (psycopg.Error,)


class QueueWorker:
    """Takes entries off the queue, at most `concurrency` at once, and awaits `run(job_id)` for each
    while keeping its heartbeat. A cancelled entry cancels `run`'s task."""

    def __init__(
        self, queue: JobQueue, run: Callable[[int], Awaitable[None]], *, concurrency: int, grace: float
    ) -> None:
        from saq import Worker

        self.queue = queue
        self.run = run
        heartbeat = queue.heartbeat
        self._worker: Worker = Worker(
            queue.queue,
            functions=[(RUN, self._entry)],
            concurrency=concurrency,
            # Stuck entries are looked for as often as a heartbeat may be missed; aborts every second.
            timers={"sweep": heartbeat, "abort": 1},
            shutdown_grace_period_s=int(grace),
            # Each wait for an entry ends after a second and looks again: on PostgreSQL a wake-up
            # (NOTIFY) that comes between two waits is otherwise missed until the next one.
            dequeue_timeout=1.0,
        )
        # The process owns its signals (SIGTERM drains the bot as a whole), not the queue library.
        self._worker.SIGNALS = []
        logging.getLogger("saq").addFilter(_no_grace_warning)
        for name in ("saq", "asyncio"):
            logging.getLogger(name).addFilter(_outage_in_one_line)
        _first_sweep_waits(queue.queue)
        self._task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return str(self._worker.id)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._worker.start(), name="bananabot-queue-worker")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self._worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _entry(self, ctx: dict[str, Any], *, job_id: int) -> None:
        entry = ctx["job"]
        beat = asyncio.create_task(self._beat(entry), name=f"bananabot-heartbeat-{job_id}")
        try:
            await self.run(job_id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _beat(self, entry: Any) -> None:
        # Three beats per allowed gap: one late write does not get a live job swept.
        while True:
            await asyncio.sleep(self.queue.heartbeat / 3)
            try:
                await entry.update()
            except Exception as exc:  # the queue briefly unreachable: the next beat tries again
                log.warning("Heartbeat of queue entry %s failed: %s", entry.key, exc)


def _no_grace_warning(record: logging.LogRecord) -> bool:
    # The library stops at once on purpose (grace 0): the engine gives running jobs their grace.
    return "shutdown grace period" not in record.getMessage()


def _outage_in_one_line(record: logging.LogRecord) -> bool:
    """While Redis or PostgreSQL is away, the queue library logs each failed poll with its traceback
    (and asyncio each of its polling tasks that failed): one line each says as much."""
    if not record.exc_info or record.exc_info[1] is None:
        return True
    error = record.exc_info[1]
    if not _is_outage(error):
        return True
    text = record.getMessage()
    record.msg = "%s (the queue is unreachable: %s: %s)"
    record.args = (text, type(error).__name__, error)
    record.exc_info = None
    record.exc_text = None
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


def _is_outage(error: BaseException) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, OSError, TimeoutError)) or type(error).__name__ in (
            "ConnectionError",  # redis.exceptions.ConnectionError (not the builtin)
            "TimeoutError",
            "OperationalError",  # psycopg: the server is gone
        ):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def _status(entry: Any) -> str:
    return str(getattr(entry.status, "value", entry.status))


def _first_sweep_waits(queue: Queue) -> None:
    """SAQ sweeps at once when a worker starts, while that worker may be taking its first entry
    (moved to the running list, not yet marked running): the sweep takes such an entry for stuck and
    hands it out again after it ends. Skipping the first sweep closes that start-up window; an entry
    handed out twice later (rare: the same race at a periodic sweep) finds its journal row finished,
    which the caller of `run` checks."""
    sweep = queue.sweep
    started = False

    async def later(*args: Any, **kwargs: Any) -> list[str]:
        nonlocal started
        if not started:
            started = True
            return []
        return await sweep(*args, **kwargs)

    queue.sweep = later  # type: ignore[method-assign]
