"""The journal's side of gateway and worker processes (PostgreSQL only: the journal they share).

The journal is the source of truth; the queue (`bot.jobqueue`) only carries "run job N" to a worker.

- A gateway keeps its members' jobs in fair turns in memory (`bot.jobs.queue`) and hands one to the
  queue only when the whole bot has room for it: `claim` counts, under one advisory lock for every
  gateway, the jobs workers hold and the caps (`GLOBAL_MAX_CONCURRENT_JOBS`, the live workers'
  `MAX_CONCURRENT_JOBS` summed, `CONCURRENCY_LIMITS` by format and model) and marks the job
  dispatched in the same transaction. So jobs wait in the gateway's fair order, not in the queue's
  first-in-first-out one, and the caps hold across every worker and gateway.
- A job holds a slot from its dispatch until its picture is made (journaled done) or, when it
  ends otherwise, until the worker running it lets it go (`release`): posting a result holds no
  slot, as in one process. A job held by a worker whose heartbeat stopped holds none (another
  worker takes it up).
- A worker runs a job only while it holds the job's lease (`lease`): two workers handed the same
  entry (the queue's sweep racing a worker) never run it at once, and a dead worker's job is taken
  over once its heartbeat is `WORKER_HEARTBEAT_SECONDS` old. A stopping worker gives its unfinished
  jobs back (`hand_back`): they stay dispatched, and the queue's retry of the entry reaches another.
- A result is posted by the one worker that claimed its delivery (`claim_delivery`).
- Times of heartbeats are the database's clock, so machines whose clocks differ agree on who is alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.jobs.model import JobStatus

if TYPE_CHECKING:
    import asyncpg

    from bot.postgres import PgDatabase

log = logging.getLogger(__name__)

CHANNEL = "bananabot_jobs"  # NOTIFY: a job let go, handed back or dispatched: gateways look again
_CLAIM_LOCK = 0x62616E616E61  # "banana": every gateway's claims, one at a time
_NOW = "extract(epoch from clock_timestamp())"
_OPEN = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def bot_slots(capacity: int, global_cap: int) -> int:
    """The jobs the whole bot runs at once: the live workers' slots, under GLOBAL_MAX_CONCURRENT_JOBS."""
    return min(capacity, global_cap) if global_cap else capacity


def worker_name() -> str:
    """A worker's id: its host and process, readable in /status."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    concurrency: int
    running: int
    started_at: float
    seen_at: float
    alive: bool


@dataclass(frozen=True)
class JobState:
    """Where a dispatched job stands, as a gateway needs it."""

    id: int
    dispatched: bool
    released: bool


class Room:
    """One claim's view of the whole bot: free slots and the running count per cap key."""

    def __init__(self, conn: asyncpg.Connection, free: int, running: Counter[str], now: float) -> None:
        self.conn = conn
        self.free = free
        self.running = running
        self.now = now
        self.taken: list[int] = []

    def fits(self, keys: Iterable[str], caps: dict[str, int]) -> bool:
        return self.free > 0 and all(self.running[k] < caps[k] for k in keys if k in caps)

    async def take(self, job_id: int, keys: Iterable[str]) -> bool:
        """Mark the job dispatched; False when it ended or was cancelled meanwhile."""
        status = await self.conn.execute(
            "UPDATE jobs SET dispatched_at = $2, held_by = NULL, released_at = NULL"
            " WHERE id = $1 AND status = ANY($3::text[]) AND cancelled_by IS NULL",
            job_id,
            self.now,
            list(_OPEN),
        )
        if status.endswith(" 0"):
            return False
        self.free -= 1
        self.running.update(keys)
        self.taken.append(job_id)
        return True


class SharedJournal:
    def __init__(self, db: PgDatabase, *, heartbeat: float) -> None:
        self.db = db
        self.heartbeat = heartbeat
        self._listener: asyncpg.Connection | None = None

    # --- gateways ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def claiming(
        self, keys_of: Callable[[str], tuple[str, ...]], global_cap: int
    ) -> AsyncIterator[Room]:
        """A transaction under the claim lock, yielding the `Room` the bot has now. `keys_of` gives
        a model's cap keys (its format, itself)."""
        async with self.db.transaction_context() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CLAIM_LOCK)
            now = float(await conn.fetchval(f"SELECT {_NOW}"))
            live = now - self.heartbeat
            capacity = int(
                await conn.fetchval(
                    "SELECT COALESCE(SUM(concurrency), 0) FROM workers WHERE seen_at > $1", live
                )
            )
            # A job whose picture is made (no longer open) holds no slot while it is posted.
            rows = await conn.fetch(
                "SELECT model, COUNT(*) AS n FROM jobs WHERE dispatched_at IS NOT NULL"
                " AND released_at IS NULL AND status = ANY($2::text[])"
                " AND (held_by IS NULL OR held_by IN (SELECT id FROM workers WHERE seen_at > $1))"
                " GROUP BY model",
                live,
                list(_OPEN),
            )
            running: Counter[str] = Counter()
            for row in rows:
                for key in keys_of(row["model"]):
                    running[key] += int(row["n"])
            held = sum(int(r["n"]) for r in rows)
            room = Room(conn, max(0, bot_slots(capacity, global_cap) - held), running, now)
            yield room
        if room.taken:
            await self.notify()

    async def states(self, job_ids: Iterable[int]) -> list[JobState]:
        rows = await self.db.fetch(
            "SELECT id, dispatched_at, released_at FROM jobs WHERE id = ANY(?::bigint[])", list(job_ids)
        )
        return [
            JobState(int(r["id"]), r["dispatched_at"] is not None, r["released_at"] is not None) for r in rows
        ]

    async def dispatched(self, job_ids: list[int]) -> set[int]:
        """Which of these jobs workers hold (dispatched and not let go)."""
        return {s.id for s in await self.states(job_ids) if s.dispatched and not s.released}

    async def lost(self) -> list[int]:
        """Jobs dispatched and not let go: the sweeper puts each back in the queue (a no-op for the
        ones it still holds). A finished job a live worker holds is being posted by it, its queue
        entry ended: it is not lost, and putting it back would post it twice."""
        rows = await self.db.fetch(
            "SELECT id FROM jobs WHERE dispatched_at IS NOT NULL AND released_at IS NULL"  # noqa: S608
            " AND NOT (status <> ALL(?::text[]) AND held_by IS NOT NULL AND held_by IN"
            f" (SELECT id FROM workers WHERE seen_at > {_NOW} - ?)) ORDER BY id",
            list(_OPEN),
            self.heartbeat,
        )
        return [int(r["id"]) for r in rows]

    async def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever a worker lets a job go (and other gateways dispatch)."""
        import asyncpg

        self._listener = await asyncpg.connect(self.db.url)
        await self._listener.add_listener(CHANNEL, lambda *_: wake())

    async def stop_listening(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(Exception):
                await listener.close(timeout=5)

    async def notify(self) -> None:
        with contextlib.suppress(Exception):  # a missed wake-up is caught by the gateways' next look
            await self.db.execute("SELECT pg_notify(?, '')", CHANNEL)

    # --- workers ----------------------------------------------------------------------------

    async def beat(self, worker: str, concurrency: int, running: int) -> None:
        host, _, pid = worker.rpartition(":")
        await self.db.execute(
            "INSERT INTO workers (id, host, pid, concurrency, running, started_at, seen_at)"  # noqa: S608
            f" VALUES (?, ?, ?, ?, ?, {_NOW}, {_NOW})"
            f" ON CONFLICT (id) DO UPDATE SET concurrency = EXCLUDED.concurrency,"
            f" running = EXCLUDED.running, seen_at = {_NOW}",
            worker,
            host,
            int(pid) if pid.isdigit() else 0,
            concurrency,
            running,
        )

    async def leave(self, worker: str) -> None:
        """A worker stopping: it holds no slot from now on."""
        with contextlib.suppress(Exception):
            await self.db.execute("DELETE FROM workers WHERE id = ?", worker)
        await self.notify()

    async def workers(self) -> list[WorkerInfo]:
        rows = await self.db.fetch(
            f"SELECT *, seen_at > {_NOW} - ? AS alive FROM workers"  # noqa: S608
            f" WHERE seen_at > {_NOW} - 3600 ORDER BY started_at, id",
            self.heartbeat,
        )
        return [
            WorkerInfo(
                r["id"],
                r["host"],
                int(r["pid"]),
                int(r["concurrency"]),
                int(r["running"]),
                float(r["started_at"]),
                float(r["seen_at"]),
                bool(r["alive"]),
            )
            for r in rows
        ]

    async def lease(self, job_id: int, worker: str) -> str:
        """Take the job's lease: "mine"; "held" while a live worker has it; "gone" when the job was
        handed back (no longer dispatched) or has been let go."""
        row = await self.db.fetchrow(
            "UPDATE jobs SET held_by = ? WHERE id = ?"  # noqa: S608
            " AND dispatched_at IS NOT NULL AND released_at IS NULL"
            f" AND (held_by IS NULL OR held_by = ? OR held_by NOT IN"
            f" (SELECT id FROM workers WHERE seen_at > {_NOW} - ?)) RETURNING id",
            worker,
            job_id,
            worker,
            self.heartbeat,
        )
        if row is not None:
            return "mine"
        state = await self.db.fetchrow(
            "SELECT dispatched_at IS NOT NULL AND released_at IS NULL AS open FROM jobs WHERE id = ?", job_id
        )
        return "held" if state is not None and state["open"] else "gone"

    async def release(self, job_id: int, worker: str) -> None:
        await self.db.execute(
            f"UPDATE jobs SET released_at = {_NOW} WHERE id = ? AND held_by = ?",  # noqa: S608
            job_id,
            worker,
        )
        await self.notify()

    async def hand_back(self, job_id: int, worker: str) -> None:
        """A stopping worker lets go of an unfinished job without ending it: the queue hands the
        entry out again (SAQ retries an entry whose worker stopped) and another worker takes it up."""
        await self.db.execute(
            "UPDATE jobs SET held_by = NULL, status = ?"
            " WHERE id = ? AND held_by = ? AND status = ANY(?::text[])",
            JobStatus.QUEUED.value,
            job_id,
            worker,
            list(_OPEN),
        )

    async def cancelled_by(self, job_ids: Iterable[int]) -> dict[int, int]:
        """Who cancelled each of these jobs, for the ones a gateway has marked cancelled."""
        rows = await self.db.fetch(
            "SELECT id, cancelled_by FROM jobs WHERE id = ANY(?::bigint[]) AND cancelled_by IS NOT NULL",
            list(job_ids),
        )
        return {int(r["id"]): int(r["cancelled_by"]) for r in rows}

    async def mark_cancelled(self, job_id: int, user_id: int) -> bool:
        """Record a cancel before telling the queue; False when the job had ended."""
        status = await self.db.execute(
            "UPDATE jobs SET cancelled_by = ? WHERE id = ? AND cancelled_by IS NULL"
            " AND status = ANY(?::text[])",
            user_id,
            job_id,
            list(_OPEN),
        )
        return not status.endswith(" 0")

    async def claim_delivery(self, job_id: int, worker: str) -> bool:
        """Whether this worker posts the job's result: the first to ask while it is not posted."""
        row = await self.db.fetchrow(
            "UPDATE jobs SET held_by = ? WHERE id = ?"  # noqa: S608
            " AND delivered_at IS NULL AND delivery_error IS NULL"
            f" AND (held_by IS NULL OR held_by = ? OR held_by NOT IN"
            f" (SELECT id FROM workers WHERE seen_at > {_NOW} - ?)) RETURNING id",
            worker,
            job_id,
            worker,
            self.heartbeat,
        )
        return row is not None
