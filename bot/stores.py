"""Which journal the bot runs on: the SQLite file under DATA_DIR, or PostgreSQL when DATABASE_URL is set.

Pictures stay files under DATA_DIR/jobs/ on either (bot/jobs/files.py): they are up to tens of
megabytes each and only read back by the job that made them and its buttons, so keeping them in the
database would swell its backups and replication for nothing. Processes on several machines share
that folder as one volume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.jobs.store import JobStore, SqliteJobStore
from bot.storage import ActionStore, Database, SqliteActionStore

if TYPE_CHECKING:
    from bot.postgres import PgDatabase


@dataclass(frozen=True)
class Stores:
    jobs: JobStore
    actions: ActionStore
    close: Callable[[], Awaitable[None]]
    # Whether the journal answers now (for /healthz). The SQLite file's health is DATA_DIR's,
    # which the health check probes itself.
    alive: Callable[[], Awaitable[bool]]
    # The PostgreSQL journal itself, which gateway and worker processes share (None on SQLite).
    shared: PgDatabase | None = None


async def _always() -> bool:
    return True


async def open_stores(database_url: str | None, sqlite: Database) -> Stores:
    """Open the journal and bring its schema up to date. On PostgreSQL, raise
    `bot.postgres.StoreUnreachable` with a message fit for the owner when it cannot be used."""
    if database_url:
        # Imported here: asyncpg is an extra, needed only with DATABASE_URL.
        from bot.jobs.pg_store import PostgresJobStore
        from bot.postgres import PgActionStore, PgDatabase

        db = PgDatabase(database_url)
        await db.open()
        return Stores(PostgresJobStore(db), PgActionStore(db), db.close, db.alive, db)
    await sqlite.open()
    return Stores(SqliteJobStore(sqlite), SqliteActionStore(sqlite), sqlite.close, _always)
