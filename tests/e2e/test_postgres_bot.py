"""The bot on a PostgreSQL journal through the fake Discord: a Midjourney grid's buttons, whose long
ids live in the journal, still work after a restart, and nothing is written to the SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.storage import DB_NAME
from tests.e2e.helpers import imagine, wait_result
from tests.e2e.test_formats import press, start_multi
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay

__all__ = ["start_multi"]  # the fixture, used by name


async def test_midjourney_buttons_work_after_a_restart_on_postgresql(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, postgres_url: str, tmp_path: Path
) -> None:
    bot = await start_multi(database_url=postgres_url)
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    await bot.close()
    discord_fake.ready.clear()
    await start_multi(database_url=postgres_url)

    varied = await wait_result(discord_fake, await press(discord_fake, grid, "V3"))
    (action,) = relay.calls_to("/mj/submit/action")
    assert action.body["customId"].startswith("MJ::JOB::variation::3::")
    assert varied.files

    import asyncpg  # here: without the extra the test skips (postgres_url) rather than fail to import

    conn = await asyncpg.connect(postgres_url)
    try:
        kept = await conn.fetchval("SELECT COUNT(*) FROM task_actions")
        jobs = [r["status"] for r in await conn.fetch("SELECT status FROM jobs ORDER BY id")]
    finally:
        await conn.close()
    assert kept >= 9 and jobs == ["done", "done"]
    database = tmp_path / "data" / DB_NAME
    if database.exists():  # the bot never migrated the SQLite file: it is not the journal
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 0
