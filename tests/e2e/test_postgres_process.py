"""`python -m bot` on a PostgreSQL journal (DATABASE_URL), as a real process against both fakes and a
real PostgreSQL server: it journals there, a crash loses no job, `migrate-store` moves a journal."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.storage import DB_NAME
from tests.e2e.test_process import environment, finish, spawn
from tests.e2e.test_restart import ALICE, BOB, bad_log_lines, results, run_bot, until
from tests.fakes.discord import FakeDiscord, SentInteraction
from tests.fakes.relay import FakeRelay
from tests.servers import free_port
from tests.unit.test_postgres import sqlite_journal


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Any]:
    import asyncpg

    conn = await asyncpg.connect(postgres_url)
    yield conn
    await conn.close()


async def rows(pg: Any) -> list[dict[str, Any]]:
    found = await pg.fetch("SELECT id, status, delivered_at FROM jobs ORDER BY id")
    return [dict(r) for r in found]


async def delivered(pg: Any) -> bool:
    return all(r["status"] == "done" and r["delivered_at"] for r in await rows(pg))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def sqlite_tables(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / DB_NAME) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


async def test_a_bot_on_postgresql_journals_there_and_a_crash_loses_no_job(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, postgres_url: str, pg: Any
) -> None:
    relay.queue("slow")
    relay.slow_seconds = 600
    env = environment(
        discord_fake, relay, tmp_path, DATABASE_URL=postgres_url, MAX_CONCURRENT_JOBS="1", LOG_LEVEL="INFO"
    )
    first = await run_bot(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        sent: list[SentInteraction] = []
        for prompt, member in (("first", ALICE), ("second", BOB)):
            sent.append(
                await discord_fake.send_interaction(
                    discord_fake.slash("imagine", {"prompt": prompt}, member=member)
                )
            )
        await until(lambda: relay.in_flight == 1)
        journaled = await rows(pg)
        assert [r["status"] for r in journaled] == ["running", "queued"]
    finally:
        code = await first.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL
    # The SQLite file in DATA_DIR holds no journal: PostgreSQL is the one.
    assert "jobs" not in sqlite_tables(tmp_path / "data")

    second = await run_bot(env, tmp_path)
    try:
        for one in sent:
            await until(lambda one=one: bool(results(discord_fake.calls, one)), timeout=30)
        await eventually(lambda: delivered(pg))
    finally:
        code = await second.stop(signal.SIGTERM)
    log = second.log.text
    assert code == 0, log
    assert "Resuming 2 jobs from the journal" in log
    assert not bad_log_lines(log), log
    for one in sent:
        assert len(results(discord_fake.calls, one)) == 1
    assert discord_fake.bot_posts == []


async def test_an_unusable_database_url_is_one_clear_line(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    url = f"postgresql://bot:pw-never-shown@127.0.0.1:{free_port()}/bananabot"
    env = environment(discord_fake, relay, tmp_path, DATABASE_URL=url)
    code, out, err = await finish(await spawn(env, tmp_path))
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("DATABASE_URL: PostgreSQL at 127.0.0.1:"), err
    assert "Traceback" not in err and "pw-never-shown" not in err + out


async def test_migrate_store_moves_a_journal_once_and_is_safe_to_run_again(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, postgres_url: str, pg: Any
) -> None:
    await sqlite_journal(tmp_path / "data")
    env = environment(discord_fake, relay, tmp_path)
    code, out, err = await finish(await spawn(env, tmp_path, "migrate-store", "--to", postgres_url))
    assert code == 0, err
    assert out.splitlines() == [
        "task_actions: 1 rows copied (0 were there from an earlier run)",
        "jobs: 3 rows copied (0 were there from an earlier run)",
    ]
    code, out, err = await finish(await spawn(env, tmp_path, "migrate-store", "--to", postgres_url))
    assert code == 0, err
    assert out.splitlines()[-1] == "jobs: 3 rows copied (3 were there from an earlier run)"
    assert [r["status"] for r in await rows(pg)] == ["done", "running", "queued"]

    code, out, err = await finish(
        await spawn(env, tmp_path, "migrate-store", "--to", "mysql://x@127.0.0.1/db")
    )
    assert code == 2 and "--to must be a postgresql:// URL" in err


async def test_check_says_whether_the_journals_database_answers(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, postgres_url: str
) -> None:
    where = postgres_url.split("@", 1)[1]
    env = environment(discord_fake, relay, tmp_path, DATABASE_URL=postgres_url)
    _, out, err = await finish(await spawn(env, tmp_path, "check"))
    assert (
        f"✓ DATABASE_URL: PostgreSQL at {where} answers; its schema is brought up to date at the next start"
        in (out.splitlines())
    ), out + err
    # The check changed nothing: no schema was made (its Discord login leaves the journal alone).
    import asyncpg

    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_version')") is None
    finally:
        await conn.close()

    bad = f"postgresql://bot:pw-never-shown@127.0.0.1:{free_port()}/bananabot"
    env = environment(discord_fake, relay, tmp_path, DATABASE_URL=bad)
    code, out, err = await finish(await spawn(env, tmp_path, "check"))
    assert code == 1
    line = next(line for line in out.splitlines() if "DATABASE_URL" in line)
    assert line.startswith(f"✗ DATABASE_URL: PostgreSQL at 127.0.0.1:{bad.rsplit(':', 1)[1]}"), out
    assert "pw-never-shown" not in out + err and "Traceback" not in err
