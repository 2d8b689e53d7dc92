"""The bot's SQLite database under DATA_DIR: schema migrations and the stores built on it.

The same migrations build the PostgreSQL schema when DATABASE_URL is set (bot/postgres.py says how).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite

from bot.providers.base import Action

log = logging.getLogger(__name__)

DB_NAME = "bananabot.db"


@dataclass(frozen=True)
class Dialects:
    """A migration that SQLite and PostgreSQL must be told in different words."""

    sqlite: str
    postgresql: str


# Append only: each entry moves the schema one version up (PRAGMA user_version here, the
# schema_version table on PostgreSQL). Write SQL both engines take, with SQLite's type names
# (INTEGER, REAL, TEXT, BLOB): bot.postgres.postgres_dialect maps them. Anything else: Dialects.
MIGRATIONS: tuple[str | Dialects, ...] = (
    """
    CREATE TABLE task_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        task_id TEXT NOT NULL,
        custom_id TEXT NOT NULL,
        label TEXT NOT NULL,
        emoji TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        guild_id INTEGER,
        channel_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        units INTEGER NOT NULL,
        spec TEXT NOT NULL,
        origin TEXT NOT NULL,
        token TEXT,
        token_expires_at REAL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        upstream_task TEXT,
        error TEXT,
        result TEXT,
        message_id INTEGER,
        delivered_at REAL,
        delivery_error TEXT,
        cancelled_by INTEGER
    );
    CREATE INDEX jobs_open ON jobs (status, delivered_at);
    CREATE INDEX jobs_user_day ON jobs (user_id, created_at);
    CREATE INDEX jobs_guild_day ON jobs (guild_id, created_at);
    """,
    # A reply to a result, or a menu used on it, finds the result's job by its message.
    """
    CREATE INDEX jobs_message ON jobs (message_id);
    """,
    # What a job was expected to cost when accepted, and what it cost once done (owner's unit).
    """
    ALTER TABLE jobs ADD COLUMN estimate REAL;
    ALTER TABLE jobs ADD COLUMN cost REAL;
    """,
    # Gateway and worker processes (bot/jobs/shared.py): when a gateway handed a job to the queue,
    # which worker holds it, when that worker let it go; and each worker's heartbeat.
    """
    ALTER TABLE jobs ADD COLUMN dispatched_at REAL;
    ALTER TABLE jobs ADD COLUMN held_by TEXT;
    ALTER TABLE jobs ADD COLUMN released_at REAL;
    CREATE INDEX jobs_dispatched ON jobs (dispatched_at, released_at);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        concurrency INTEGER NOT NULL,
        running INTEGER NOT NULL,
        started_at REAL NOT NULL,
        seen_at REAL NOT NULL
    );
    """,
)


# Enough to show a full disk or a file size limit, small enough to cost nothing at start.
_PROBE_BYTES = 64 * 1024


def data_dir_problem(data_dir: Path) -> str | None:
    """Why DATA_DIR cannot hold the bot's journal and pictures, as one line with the fix; None when
    it can. Run once at start (blocking): a folder found unusable later fails the job, not the bot.
    """
    where = f"DATA_DIR '{data_dir}'"
    database = data_dir / DB_NAME
    if database.exists() and not database.is_file():
        return f"{where}: {database} is not a file: move it away, or point DATA_DIR at another folder"
    probe = data_dir / ".write-test"
    try:
        with probe.open("wb") as handle:
            handle.write(b"\0" * _PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return _unusable(where, exc)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    try:
        connection = sqlite3.connect(database)
        try:
            connection.execute("PRAGMA user_version").fetchone()
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return f"{where}: its database {database} cannot be opened ({exc}): move the file away or fix it"
    return None


def _unusable(where: str, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"{where} has no room left ({exc.strerror}): free some disk space,"
            " or point DATA_DIR at another disk"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"{where} is not writable ({exc.strerror}): give the bot's user write access,"
            " or point DATA_DIR at a folder it can write"
        )
    return f"{where} cannot be written ({exc.strerror}): point DATA_DIR at a folder the bot can write"


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the database is not open")
        return self._conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path)
        self._conn.row_factory = aiosqlite.Row
        await self._conn.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL still never corrupts the file; only a power cut can lose the last commits.
        await self._conn.execute("PRAGMA synchronous=NORMAL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _migrate(self) -> None:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = row[0] if row else 0
        for number, entry in enumerate(MIGRATIONS[version:], start=version + 1):
            script = entry.sqlite if isinstance(entry, Dialects) else entry
            await self.conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
            log.info("Database schema moved to version %d", number)


@dataclass(frozen=True)
class StoredAction:
    id: int
    model: str
    task_id: str
    action: Action


class ActionStore(Protocol):
    """Keeps a task API's long follow-up ids so buttons carry a short key."""

    async def add(self, model: str, task_id: str, actions: tuple[Action, ...]) -> list[int]:
        """Keep the actions; their short keys, in order."""

    async def get(self, action_id: int) -> StoredAction | None: ...


class SqliteActionStore:
    """`ActionStore` in the SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, model: str, task_id: str, actions: tuple[Action, ...]) -> list[int]:
        ids = []
        now = time.time()
        for action in actions:
            cursor = await self.db.conn.execute(
                "INSERT INTO task_actions (model, task_id, custom_id, label, emoji, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (model, task_id, action.custom_id, action.label, action.emoji, now),
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
        await self.db.conn.commit()
        return ids

    async def get(self, action_id: int) -> StoredAction | None:
        async with self.db.conn.execute(
            "SELECT id, model, task_id, custom_id, label, emoji FROM task_actions WHERE id = ?", (action_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return StoredAction(
            row["id"], row["model"], row["task_id"], Action(row["label"], row["emoji"], row["custom_id"])
        )
