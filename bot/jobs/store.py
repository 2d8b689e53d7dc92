"""The job journal: every state change is written before the bot acts on it.

`JobStore` is what the engine depends on; `SqliteJobStore` is the embedded default. Another backend
(a shared database for several processes) implements the same methods and nothing in the engine moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import aiosqlite

from bot.errors import outcome_of
from bot.jobs.model import Job, JobStatus, Origin
from bot.request import GenerateRequest, Note
from bot.storage import Database

# Jobs that use up a member's daily pictures: failed and cancelled ones give them back.
_COUNTED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.DONE.value)
UPDATABLE = frozenset(
    {
        "status",
        "started_at",
        "finished_at",
        "upstream_task",
        "error",
        "message_id",
        "delivered_at",
        "delivery_error",
        "cancelled_by",
    }
)


@dataclass(frozen=True)
class ModelStats:
    model: str
    done: int
    failed: int  # the service's (or the bot's) failures
    median_seconds: float | None
    refused: int = 0  # stopped by a safety filter or by the member's own request: not failures


@dataclass(frozen=True)
class StoredResult:
    """What a finished job's message says besides its pictures (kept to deliver after a restart)."""

    text: str = ""
    notes: tuple[tuple[str, dict[str, str | int]], ...] = ()
    seconds: float = 0.0
    task_id: str | None = None
    actions: tuple[tuple[str, str, str], ...] = ()  # label, emoji, custom_id


class JobStore(Protocol):
    async def add(self, job: Job) -> Job:
        """Journal a new job and give it its id."""

    async def update(self, job: Job, **fields: Any) -> None:
        """Set fields on the job and in the journal at once (only the columns in `UPDATABLE`)."""

    async def set_result(self, job: Job, result: StoredResult, at: float, cost: float | None = None) -> None:
        """Mark the job done with what its message says besides the pictures."""

    async def result(self, job_id: int) -> StoredResult | None: ...

    async def get(self, job_id: int) -> Job | None: ...

    async def unfinished(self) -> list[Job]:
        """Jobs a restart must pick up: queued or running, or done but never delivered."""

    async def for_message(self, message_id: int) -> Job | None:
        """The finished job whose result the message shows."""

    async def finished_for(
        self, user_id: int, since: float, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        """A member's results finished since `since`, newest first (one page), and how many in all."""

    async def units_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> int:
        """Pictures counted against a member's or a server's limits since `since`."""

    async def spent_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> float:
        """What jobs since `since` cost: a done job its cost, an open one its estimate, a failed or
        cancelled one nothing. Neither a user nor a guild: every job's."""

    async def spend_of(
        self, user_id: int, guild_id: int | None, day_start: float, month_start: float
    ) -> tuple[float, float, float]:
        """A member's spend today and this month, and their server's this month, in one read."""

    async def spend_by_model(self, guild_id: int, since: float) -> list[tuple[str, float]]: ...

    async def top_spenders(self, guild_id: int, since: float, limit: int = 5) -> list[tuple[int, float]]: ...

    async def last_request(self, user_id: int) -> float | None:
        """When the member last started a job that counts (for the cooldown)."""

    async def top_users(self, guild_id: int, since: float, limit: int = 10) -> list[tuple[int, int]]: ...

    async def model_stats(self, since: float) -> list[ModelStats]:
        """Per model: jobs done and failed since `since`, and the median run time of those done."""


class SqliteJobStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # New jobs wait here for the next commit: a burst of commands is journaled in one transaction.
        self._adding: list[tuple[Job, asyncio.Future[None]]] = []
        # One burst at a time: the ids of a burst are read back from the last insert, which another
        # burst's inserts must not come between.
        self._commit_lock = asyncio.Lock()
        self._commits: set[asyncio.Task[None]] = set()

    @property
    def conn(self) -> aiosqlite.Connection:
        return self.db.conn

    async def add(self, job: Job) -> Job:
        """Journal a job; it is on disk when this returns. Adds made in the same moment share one
        commit (the first schedules it, the others join), so a burst costs one transaction."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._adding.append((job, future))
        if len(self._adding) == 1:
            # Next turn of the loop: the other commands of this burst join the batch meanwhile.
            asyncio.get_running_loop().call_soon(self._schedule_commit)
        await future
        return job

    def _schedule_commit(self) -> None:
        task = asyncio.ensure_future(self._commit_adds())
        self._commits.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._commits.discard)

    async def _commit_adds(self) -> None:
        async with self._commit_lock:
            batch, self._adding = self._adding, []
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Job, asyncio.Future[None]]]) -> None:
        try:
            # One round trip to the database thread for the whole burst. Only this lock's holder
            # inserts jobs, and ids only grow, so the burst's rows are the newest ones, in order.
            await self.conn.executemany(_INSERT, [_row(job) for job, _ in batch])
            async with self.conn.execute(
                "SELECT id FROM jobs ORDER BY id DESC LIMIT ?", (len(batch),)
            ) as cursor:
                ids = sorted(int(row[0]) for row in await cursor.fetchall())
            for (job, _), job_id in zip(batch, ids, strict=True):
                job.id = job_id
            await self.conn.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.conn.rollback()
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def update(self, job: Job, **fields: Any) -> None:
        """Set fields on the job and in the journal, in one commit."""
        statement, values = update_statement(fields)
        await self.conn.execute(statement, (*values, job.id))
        await self.conn.commit()
        # Only once committed: a failed write leaves the job in memory as the journal has it.
        for name, value in fields.items():
            setattr(job, name, value)

    async def set_result(self, job: Job, result: StoredResult, at: float, cost: float | None = None) -> None:
        await self.conn.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, result = ?, cost = ? WHERE id = ?",
            (JobStatus.DONE.value, at, json.dumps(asdict(result)), cost, job.id),
        )
        await self.conn.commit()
        job.status, job.finished_at, job.cost = JobStatus.DONE, at, cost

    async def result(self, job_id: int) -> StoredResult | None:
        async with self.conn.execute("SELECT result FROM jobs WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None or not row["result"]:
            return None
        return stored_result_of(row["result"])

    async def get(self, job_id: int) -> Job | None:
        async with self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return _job(row) if row else None

    async def for_message(self, message_id: int) -> Job | None:
        async with self.conn.execute(
            "SELECT * FROM jobs WHERE message_id = ? AND status = ? ORDER BY id DESC LIMIT 1",
            (message_id, JobStatus.DONE.value),
        ) as cursor:
            row = await cursor.fetchone()
        return _job(row) if row else None

    async def finished_for(
        self, user_id: int, since: float, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        where = "user_id = ? AND status = ? AND finished_at >= ? AND message_id IS NOT NULL"
        args = (user_id, JobStatus.DONE.value, since)
        # `where` is a fixed string; every value is a parameter.
        async with self.conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}", args) as cursor:  # noqa: S608
            row = await cursor.fetchone()
        total = int(row[0]) if row else 0
        async with self.conn.execute(
            f"SELECT * FROM jobs WHERE {where} ORDER BY finished_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*args, limit, offset),
        ) as cursor:
            return [_job(r) for r in await cursor.fetchall()], total

    async def unfinished(self) -> list[Job]:
        """Jobs a restart must pick up: queued or running, or done but never delivered."""
        async with self.conn.execute(
            "SELECT * FROM jobs WHERE status IN (?, ?)"
            " OR (status = ? AND delivered_at IS NULL AND delivery_error IS NULL) ORDER BY id",
            (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.DONE.value),
        ) as cursor:
            return [_job(row) for row in await cursor.fetchall()]

    async def units_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> int:
        where, args = _scope(user_id, guild_id)
        # `where` is one of two fixed strings; every value is a parameter.
        async with self.conn.execute(
            f"SELECT COALESCE(SUM(units), 0) FROM jobs WHERE {where} AND created_at >= ?"  # noqa: S608
            f" AND status IN (?, ?, ?)",
            (*args, since, *_COUNTED),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def spent_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> float:
        """What jobs since `since` cost: a done job its cost, an open one its estimate, a failed or
        cancelled one nothing. Neither a user nor a guild: every job's."""
        where, args = _scope(user_id, guild_id) if user_id or guild_id else ("1 = 1", ())
        # `where` is one of two fixed strings; every value is a parameter.
        async with self.conn.execute(
            f"SELECT COALESCE(SUM({_SPENT}), 0) FROM jobs WHERE {where} AND created_at >= ?",  # noqa: S608
            (*_SPENT_ARGS, *args, since),
        ) as cursor:
            row = await cursor.fetchone()
        return float(row[0]) if row else 0.0

    async def spend_of(
        self, user_id: int, guild_id: int | None, day_start: float, month_start: float
    ) -> tuple[float, float, float]:
        # One round trip: the budget checks run for every command, before its defer.
        async with self.conn.execute(
            f"SELECT COALESCE(SUM(CASE WHEN user_id = ? AND created_at >= ? THEN {_SPENT} END), 0),"  # noqa: S608
            f" COALESCE(SUM(CASE WHEN user_id = ? THEN {_SPENT} END), 0),"
            f" COALESCE(SUM(CASE WHEN guild_id = ? THEN {_SPENT} END), 0)"
            " FROM jobs WHERE created_at >= ? AND (user_id = ? OR guild_id = ?)",
            (
                user_id,
                day_start,
                *_SPENT_ARGS,
                user_id,
                *_SPENT_ARGS,
                guild_id,
                *_SPENT_ARGS,
                month_start,
                user_id,
                guild_id,
            ),
        ) as cursor:
            row = await cursor.fetchone()
        return (float(row[0]), float(row[1]), float(row[2])) if row else (0.0, 0.0, 0.0)

    async def spend_by_model(self, guild_id: int, since: float) -> list[tuple[str, float]]:
        async with self.conn.execute(
            f"SELECT model, SUM({_SPENT}) AS spent FROM jobs WHERE guild_id = ? AND created_at >= ?"  # noqa: S608
            " GROUP BY model HAVING spent > 0 ORDER BY spent DESC, model",
            (*_SPENT_ARGS, guild_id, since),
        ) as cursor:
            return [(str(r["model"]), float(r["spent"])) for r in await cursor.fetchall()]

    async def top_spenders(self, guild_id: int, since: float, limit: int = 5) -> list[tuple[int, float]]:
        async with self.conn.execute(
            f"SELECT user_id, SUM({_SPENT}) AS spent FROM jobs WHERE guild_id = ? AND created_at >= ?"  # noqa: S608
            " GROUP BY user_id HAVING spent > 0 ORDER BY spent DESC, user_id LIMIT ?",
            (*_SPENT_ARGS, guild_id, since, limit),
        ) as cursor:
            return [(int(r["user_id"]), float(r["spent"])) for r in await cursor.fetchall()]

    async def last_request(self, user_id: int) -> float | None:
        """When the member last started a job that counts (for the cooldown)."""
        async with self.conn.execute(
            "SELECT MAX(created_at) FROM jobs WHERE user_id = ? AND status IN (?, ?, ?)",
            (user_id, *_COUNTED),
        ) as cursor:
            row = await cursor.fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def top_users(self, guild_id: int, since: float, limit: int = 10) -> list[tuple[int, int]]:
        async with self.conn.execute(
            "SELECT user_id, SUM(units) AS used FROM jobs WHERE guild_id = ? AND created_at >= ?"
            " AND status IN (?, ?, ?) GROUP BY user_id ORDER BY used DESC, user_id LIMIT ?",
            (guild_id, since, *_COUNTED, limit),
        ) as cursor:
            return [(int(r["user_id"]), int(r["used"])) for r in await cursor.fetchall()]

    async def model_stats(self, since: float) -> list[ModelStats]:
        """Per model: jobs done and failed since `since`, and the median run time of those done."""
        async with self.conn.execute(
            "SELECT model, status, error, started_at, finished_at FROM jobs WHERE finished_at >= ?"
            " AND status IN (?, ?)",
            (since, JobStatus.DONE.value, JobStatus.FAILED.value),
        ) as cursor:
            rows = await cursor.fetchall()
        by_model: dict[str, tuple[list[float], list[int]]] = {}
        for row in rows:
            times, ends = by_model.setdefault(row["model"], ([], [0, 0]))  # failed, refused
            if row["status"] == JobStatus.FAILED.value:
                ends[0 if outcome_of(row["error"]) == "failure" else 1] += 1
            elif row["started_at"] is not None:
                times.append(row["finished_at"] - row["started_at"])
        return [
            ModelStats(model, len(times), ends[0], statistics.median(times) if times else None, ends[1])
            for model, (times, ends) in sorted(by_model.items())
        ]


def stored_result_of(text: str) -> StoredResult:
    """A result as the journal's `result` column keeps it (JSON), read back."""
    raw = json.loads(text)
    return StoredResult(
        raw["text"],
        tuple((key, params) for key, params in raw["notes"]),
        raw["seconds"],
        raw["task_id"],
        tuple(tuple(a) for a in raw["actions"]),  # type: ignore[misc]
    )


def update_statement(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    """`UPDATE jobs SET … WHERE id = ?` for these fields (the id's parameter last) and their values."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not a job column: {sorted(unknown)}")
    columns = ", ".join(f"{name} = ?" for name in fields)
    values = [v.value if isinstance(v, JobStatus) else v for v in fields.values()]
    # The column names come from UPDATABLE only; every value is a parameter.
    return f"UPDATE jobs SET {columns} WHERE id = ?", values  # noqa: S608


def _scope(user_id: int | None, guild_id: int | None) -> tuple[str, tuple[int, ...]]:
    if user_id is not None:
        return "user_id = ?", (user_id,)
    if guild_id is not None:
        return "guild_id = ?", (guild_id,)
    raise ValueError("a user or a guild is needed")


_INSERT = (
    "INSERT INTO jobs (kind, status, user_id, guild_id, channel_id, model, units, spec, origin,"
    " token, token_expires_at, created_at, message_id, estimate)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# What a job counts for in the spend: its cost once done, its estimate while it may still run.
_SPENT = (
    "CASE WHEN status = ? THEN COALESCE(cost, 0) WHEN status IN (?, ?) THEN COALESCE(estimate, 0) ELSE 0 END"
)
_SPENT_ARGS = (JobStatus.DONE.value, JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _row(job: Job) -> tuple[Any, ...]:
    origin = replace(job.origin, token=None)
    return (
        job.request.kind.value,
        job.status.value,
        job.origin.user_id,
        job.origin.guild_id,
        job.origin.channel_id,
        job.model,
        job.units,
        _spec(job),
        json.dumps(asdict(origin)),
        job.origin.token,
        job.origin.token_expires_at,
        job.created_at,
        job.message_id,
        job.estimate,
    )


def _spec(job: Job) -> str:
    notes = [{"key": note.key, "params": note.params} for note in job.notes]
    return json.dumps({**job.request.to_dict(), "notes": notes})


def _job(row: aiosqlite.Row) -> Job:
    origin = Origin(**json.loads(row["origin"]))
    origin = replace(origin, token=row["token"], token_expires_at=row["token_expires_at"])
    spec = json.loads(row["spec"])
    notes = tuple(Note(n["key"], n["params"]) for n in spec.pop("notes", None) or ())
    # The model column holds the resolved name (journals from before planning-once kept the member's).
    request = replace(GenerateRequest.from_dict(spec), model=row["model"])
    return Job(
        id=row["id"],
        request=request,
        origin=origin,
        units=row["units"],
        notes=notes,
        status=JobStatus(row["status"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        upstream_task=row["upstream_task"],
        error=row["error"],
        message_id=row["message_id"],
        delivered_at=row["delivered_at"],
        delivery_error=row["delivery_error"],
        cancelled_by=row["cancelled_by"],
        estimate=row["estimate"],
        cost=row["cost"],
    )
