"""`python -m bot migrate-store --to postgresql://…`: copy the SQLite journal into PostgreSQL.

Run it with the bot stopped. Rows keep their ids (buttons and replies on old results name them), so
a second run finds them in place and only brings changes; a row of the same id that is another job
(the target already served a bot) stops the copy before anything is written. Pictures stay where they
are: point every process at the same DATA_DIR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.postgres import PgDatabase, where
from bot.storage import DB_NAME, Database

# Parents first: nothing references across them today, but the order is the natural one to extend.
TABLES = ("task_actions", "jobs")


class MigrationRefused(Exception):
    """The target holds rows that are not this journal's; nothing was written."""


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int
    already: int  # of those, how many the target held before (a repeated run)


async def migrate_store(data_dir: Path, url: str) -> list[Copied]:
    source = Database(data_dir / DB_NAME)
    target = PgDatabase(url, max_size=2)
    await source.open()  # brings an older journal's schema up first: both sides then have the same
    try:
        await target.open()
        try:
            plans = [await _plan(source, target, table) for table in TABLES]
            async with target.pool.acquire() as conn, conn.transaction():
                for table, columns, rows, _ in plans:
                    if rows:
                        await conn.executemany(_upsert(table, columns), rows)
                    # Ids given explicitly leave the identity sequence behind: new rows go after them.
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )
            return [Copied(table, len(rows), already) for table, _, rows, already in plans]
        finally:
            await target.close()
    finally:
        await source.close()


async def _plan(
    source: Database, target: PgDatabase, table: str
) -> tuple[str, list[str], list[tuple[Any, ...]], int]:
    async with source.conn.execute(f"PRAGMA table_info({table})") as cursor:
        columns = [str(row["name"]) for row in await cursor.fetchall()]
    # PostgreSQL's driver wants each value in its column's own type (SQLite may hand back 5 for 5.0).
    types = {
        str(r["column_name"]): str(r["data_type"])
        for r in await target.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            table,
        )
    }
    missing = [c for c in columns if c not in types]
    if missing:
        raise MigrationRefused(f"{where(target.url)}: table {table} has no column {', '.join(missing)}")
    cast = [_caster(types[c]) for c in columns]
    # The table and column names come from the journal's own schema; every value is a parameter.
    async with source.conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id") as cursor:  # noqa: S608
        rows = [tuple(f(v) for f, v in zip(cast, row, strict=True)) for row in await cursor.fetchall()]
    held = {
        int(r["id"]): r["created_at"]
        for r in await target.fetch(f"SELECT id, created_at FROM {table}")  # noqa: S608
    }
    at_id, at_created = columns.index("id"), columns.index("created_at")
    others = [row[at_id] for row in rows if row[at_id] in held and held[row[at_id]] != row[at_created]]
    if others:
        raise MigrationRefused(
            f"{where(target.url)} already holds other {table} under the same ids ({_ids(others)}):"
            " copy into an empty database"
        )
    return table, columns, rows, sum(1 for row in rows if row[at_id] in held)


def _upsert(table: str, columns: list[str]) -> str:
    values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "id")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608
        f" ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def _caster(data_type: str) -> Any:
    if data_type in ("bigint", "integer", "smallint"):
        return lambda v: None if v is None else int(v)
    if data_type in ("double precision", "real"):
        return lambda v: None if v is None else float(v)
    return lambda v: v


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
