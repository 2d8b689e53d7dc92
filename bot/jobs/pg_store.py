"""`JobStore` on PostgreSQL: the same journal as `SqliteJobStore`, shared by every process of one bot.

The rows are the SQLite journal's, column for column (one list of migrations builds both), and the
row <-> Job mapping is `bot.jobs.store`'s. The SQL is written with `?` like the SQLite store's and
numbered for asyncpg by `bot.postgres.numbered`. The contract tests run one suite against both.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import asdict
from typing import Any

from bot.jobs.model import Job, JobStatus
from bot.jobs.store import (
    _COUNTED,
    _SPENT,
    _SPENT_ARGS,
    ModelStats,
    StoredResult,
    _job,
    _row,
    _scope,
    stored_result_of,
    update_statement,
)
from bot.postgres import PgDatabase

_COLUMNS = (
    "kind, status, user_id, guild_id, channel_id, model, units, spec, origin,"
    " token, token_expires_at, created_at, message_id, estimate"
)
_ONE_ROW = "(" + ", ".join("?" * len(_COLUMNS.split(","))) + ")"
# One statement carries at most 65535 parameters; a burst is cut into statements of this many rows.
BURST_ROWS = 1000


class PostgresJobStore:
    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        # New jobs wait here for the next statement: a burst of commands is one multi-row INSERT.
        self._adding: list[tuple[Job, asyncio.Future[None]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def add(self, job: Job) -> Job:
        """Journal a job; it is committed when this returns. Adds made in the same moment share one
        INSERT (the first schedules it, the others join), as the SQLite store shares one commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._adding.append((job, future))
        if len(self._adding) == 1:
            loop.call_soon(self._schedule_flush)
        await future
        return job

    def _schedule_flush(self) -> None:
        task = asyncio.ensure_future(self._flush())
        self._flushes.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._flushes.discard)

    async def _flush(self) -> None:
        batch, self._adding = self._adding, []
        for start in range(0, len(batch), BURST_ROWS):
            part = batch[start : start + BURST_ROWS]
            values = ", ".join([_ONE_ROW] * len(part))
            try:
                rows = await self.db.insert(
                    f"INSERT INTO jobs ({_COLUMNS}) VALUES {values} RETURNING id",  # noqa: S608
                    *(value for job, _ in part for value in _row(job)),
                )
                # One statement takes its identity values in the order of its rows, so its ids,
                # sorted, are the rows' (other sessions' inserts may take values in between).
                for (job, _), job_id in zip(part, sorted(int(r["id"]) for r in rows), strict=True):
                    job.id = job_id
            except Exception as exc:
                for _, future in part:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in part:
                if not future.done():
                    future.set_result(None)

    async def update(self, job: Job, **fields: Any) -> None:
        statement, values = update_statement(fields)
        await self.db.execute(statement, *values, job.id)
        for name, value in fields.items():
            setattr(job, name, value)

    async def set_result(self, job: Job, result: StoredResult, at: float, cost: float | None = None) -> None:
        await self.db.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, result = ?, cost = ? WHERE id = ?",
            JobStatus.DONE.value,
            at,
            json.dumps(asdict(result)),
            cost,
            job.id,
        )
        job.status, job.finished_at, job.cost = JobStatus.DONE, at, cost

    async def result(self, job_id: int) -> StoredResult | None:
        row = await self.db.fetchrow("SELECT result FROM jobs WHERE id = ?", job_id)
        if row is None or not row["result"]:
            return None
        return stored_result_of(row["result"])

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchrow("SELECT * FROM jobs WHERE id = ?", job_id)
        return _job(row) if row else None  # type: ignore[arg-type]

    async def for_message(self, message_id: int) -> Job | None:
        row = await self.db.fetchrow(
            "SELECT * FROM jobs WHERE message_id = ? AND status = ? ORDER BY id DESC LIMIT 1",
            message_id,
            JobStatus.DONE.value,
        )
        return _job(row) if row else None  # type: ignore[arg-type]

    async def finished_for(
        self, user_id: int, since: float, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        where = "user_id = ? AND status = ? AND finished_at >= ? AND message_id IS NOT NULL"
        args = (user_id, JobStatus.DONE.value, float(since))
        # `where` is a fixed string; every value is a parameter.
        total = await self.db.fetchval(f"SELECT COUNT(*) FROM jobs WHERE {where}", *args)  # noqa: S608
        rows = await self.db.fetch(
            f"SELECT * FROM jobs WHERE {where} ORDER BY finished_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608
            *args,
            limit,
            offset,
        )
        return [_job(r) for r in rows], int(total or 0)  # type: ignore[arg-type]

    async def unfinished(self) -> list[Job]:
        rows = await self.db.fetch(
            "SELECT * FROM jobs WHERE status IN (?, ?)"
            " OR (status = ? AND delivered_at IS NULL AND delivery_error IS NULL) ORDER BY id",
            JobStatus.QUEUED.value,
            JobStatus.RUNNING.value,
            JobStatus.DONE.value,
        )
        return [_job(row) for row in rows]  # type: ignore[arg-type]

    async def units_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> int:
        where, args = _scope(user_id, guild_id)
        # `where` is one of two fixed strings; every value is a parameter.
        value = await self.db.fetchval(
            f"SELECT COALESCE(SUM(units), 0) FROM jobs WHERE {where} AND created_at >= ?"  # noqa: S608
            " AND status IN (?, ?, ?)",
            *args,
            float(since),
            *_COUNTED,
        )
        return int(value or 0)

    async def spent_since(
        self, since: float, *, user_id: int | None = None, guild_id: int | None = None
    ) -> float:
        """Neither a user nor a guild: every job's."""
        where, args = _scope(user_id, guild_id) if user_id or guild_id else ("1 = 1", ())
        value = await self.db.fetchval(
            f"SELECT COALESCE(SUM({_SPENT}), 0) FROM jobs WHERE {where} AND created_at >= ?",  # noqa: S608
            *_SPENT_ARGS,
            *args,
            float(since),
        )
        return float(value or 0.0)

    async def spend_of(
        self, user_id: int, guild_id: int | None, day_start: float, month_start: float
    ) -> tuple[float, float, float]:
        """A member's spend today and this month, and their server's this month, in one read."""
        row = await self.db.fetchrow(
            f"SELECT COALESCE(SUM(CASE WHEN user_id = ? AND created_at >= ? THEN {_SPENT} END), 0),"  # noqa: S608
            f" COALESCE(SUM(CASE WHEN user_id = ? THEN {_SPENT} END), 0),"
            f" COALESCE(SUM(CASE WHEN guild_id = ? THEN {_SPENT} END), 0)"
            " FROM jobs WHERE created_at >= ? AND (user_id = ? OR guild_id = ?)",
            user_id,
            float(day_start),
            *_SPENT_ARGS,
            user_id,
            *_SPENT_ARGS,
            guild_id,
            *_SPENT_ARGS,
            float(month_start),
            user_id,
            guild_id,
        )
        return (float(row[0]), float(row[1]), float(row[2])) if row else (0.0, 0.0, 0.0)

    async def spend_by_model(self, guild_id: int, since: float) -> list[tuple[str, float]]:
        # PostgreSQL's HAVING cannot name an output column, so the sum is written out there.
        rows = await self.db.fetch(
            f"SELECT model, SUM({_SPENT}) AS spent FROM jobs WHERE guild_id = ? AND created_at >= ?"  # noqa: S608
            f" GROUP BY model HAVING SUM({_SPENT}) > 0 ORDER BY spent DESC, model",
            *_SPENT_ARGS,
            guild_id,
            float(since),
            *_SPENT_ARGS,
        )
        return [(str(r["model"]), float(r["spent"])) for r in rows]

    async def top_spenders(self, guild_id: int, since: float, limit: int = 5) -> list[tuple[int, float]]:
        rows = await self.db.fetch(
            f"SELECT user_id, SUM({_SPENT}) AS spent FROM jobs WHERE guild_id = ? AND created_at >= ?"  # noqa: S608
            f" GROUP BY user_id HAVING SUM({_SPENT}) > 0 ORDER BY spent DESC, user_id LIMIT ?",
            *_SPENT_ARGS,
            guild_id,
            float(since),
            *_SPENT_ARGS,
            limit,
        )
        return [(int(r["user_id"]), float(r["spent"])) for r in rows]

    async def last_request(self, user_id: int) -> float | None:
        value = await self.db.fetchval(
            "SELECT MAX(created_at) FROM jobs WHERE user_id = ? AND status IN (?, ?, ?)",
            user_id,
            *_COUNTED,
        )
        return float(value) if value is not None else None

    async def top_users(self, guild_id: int, since: float, limit: int = 10) -> list[tuple[int, int]]:
        rows = await self.db.fetch(
            "SELECT user_id, SUM(units) AS used FROM jobs WHERE guild_id = ? AND created_at >= ?"
            " AND status IN (?, ?, ?) GROUP BY user_id ORDER BY used DESC, user_id LIMIT ?",
            guild_id,
            float(since),
            *_COUNTED,
            limit,
        )
        return [(int(r["user_id"]), int(r["used"])) for r in rows]

    async def model_stats(self, since: float) -> list[ModelStats]:
        rows = await self.db.fetch(
            "SELECT model, status, started_at, finished_at FROM jobs WHERE finished_at >= ?"
            " AND status IN (?, ?)",
            float(since),
            JobStatus.DONE.value,
            JobStatus.FAILED.value,
        )
        by_model: dict[str, tuple[list[float], list[int]]] = {}
        for row in rows:
            times, failed = by_model.setdefault(row["model"], ([], [0]))
            if row["status"] == JobStatus.FAILED.value:
                failed[0] += 1
            elif row["started_at"] is not None:
                times.append(row["finished_at"] - row["started_at"])
        return [
            ModelStats(model, len(times), failed[0], statistics.median(times) if times else None)
            for model, (times, failed) in sorted(by_model.items())
        ]
