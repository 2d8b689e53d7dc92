"""The parts a gateway or worker process adds to the one-process bot: the queue (`QUEUE_URL`), the
journal's shared side on `DATABASE_URL`, and which jobs are this process's.

`python -m bot` (role "all") uses none of this. `python -m bot gateway` answers Discord and hands its
jobs to the workers; `python -m bot worker` runs them (bot/jobs/handoff.py, bot/jobs/worker_runs.py).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.jobqueue import JobQueue, QueueStats, QueueWorker
from bot.jobs.model import Job
from bot.jobs.shared import SharedJournal, WorkerInfo
from bot.postgres import StoreUnreachable, where

if TYPE_CHECKING:
    from bot.jobs.engine import JobEngine
    from bot.postgres import PgDatabase

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    ALL = "all"  # one process: the gateway connection and the jobs
    GATEWAY = "gateway"
    WORKER = "worker"


def split_problem(settings: Settings, role: Role) -> str | None:
    """Why this process cannot take its role with these settings; None when it can."""
    if role is Role.ALL:
        return None
    if not settings.database_url:
        return f"`{role}` needs DATABASE_URL: the postgresql:// journal every gateway and worker shares"
    if not settings.queue_url:
        return f"`{role}` needs QUEUE_URL: the queue between gateways and workers (redis:// or postgresql://)"
    return None


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends a server's events to (direct messages: shard 0)."""
    return 0 if guild_id is None or shard_count <= 1 else (guild_id >> 22) % shard_count


def owner_of_jobs(settings: Settings) -> tuple[int, ...] | None:
    """The shards whose journaled jobs a gateway resumes; None: all of them."""
    if not settings.shard_count or not settings.shard_ids:
        return None
    return settings.shard_ids


@dataclass(frozen=True)
class ScaleStatus:
    workers: tuple[WorkerInfo, ...]
    queue: QueueStats


class ScaleOut:
    def __init__(self, role: Role, settings: Settings, db: PgDatabase) -> None:
        self.role = role
        self.settings = settings
        self.journal = SharedJournal(db, heartbeat=settings.worker_heartbeat_seconds)
        assert settings.queue_url is not None
        self.queue = JobQueue.from_url(settings.queue_url, heartbeat=int(settings.worker_heartbeat_seconds))
        self._worker: QueueWorker | None = None

    async def attach(self, engine: JobEngine) -> None:
        """Connect the queue and give the engine its role (before `engine.start`)."""
        try:
            await self.queue.connect()
        except Exception as exc:
            raise StoreUnreachable(
                f"QUEUE_URL: the queue at {where(self.settings.queue_url or '')} cannot be used "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if self.role is Role.GATEWAY:
            shards = owner_of_jobs(self.settings)
            count = self.settings.shard_count

            def owns(job: Job) -> bool:
                return shards is None or shard_of(job.origin.guild_id, count) in shards

            engine.run_in_workers(self.journal, self.queue, owns)
        else:
            concurrency = self.settings.max_concurrent_jobs
            runs = engine.serve_queue(self.journal, concurrency)
            # The queue library stops at once; the engine's drain gives running jobs their grace.
            self._worker = self.queue.worker(runs.run, concurrency=concurrency, grace=0)

    async def start(self) -> None:
        """After `engine.start`: a worker begins taking entries."""
        if self._worker is not None:
            await self._worker.start()

    async def stop_taking(self) -> None:
        """Before the engine drains: a worker takes no new entry. The queue hands the entries of
        its running jobs out again, and another worker waits on their lease while the drain lets
        them finish for SHUTDOWN_GRACE seconds; the rest are given back to it."""
        if self._worker is not None:
            await self._worker.stop()

    async def close(self) -> None:
        await self.queue.close()

    async def status(self) -> ScaleStatus:
        return ScaleStatus(tuple(await self.journal.workers()), await self.queue.stats())
