"""The bot on PostgreSQL while the database goes away for a moment: new commands get a private "try
again in a minute", the job that was running finishes and is recorded once the database is back, and
the bot serves again without a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.helpers import private_error, wait_result
from tests.e2e.test_health import eventually, get
from tests.e2e.test_jobs import ALICE, BOB, imagine, until
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.servers import PostgresServer, free_port, new_database, start_postgres


async def healthy(port: int) -> bool:
    return (await get(port, "/healthz"))[0] == 200


@pytest.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


async def test_a_database_outage_is_try_again_and_loses_no_running_job(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    # `python -m bot` makes DATA_DIR before anything else; a bot started in the test needs it made.
    (tmp_path / "data").mkdir()
    async with new_database(own_postgres) as url:
        relay.hold = asyncio.Event()
        port = free_port()
        await start_bot(database_url=url, health_port=port)
        await eventually(lambda: healthy(port))  # the gateway's socket opens just after ready
        running = await imagine(discord_fake, "before", ALICE)
        await until(lambda: relay.in_flight == 1)

        await asyncio.to_thread(own_postgres.stop, remove=False)
        status, body = await get(port, "/healthz")
        assert status == 503 and json.loads(body)["store_writable"] is False
        refused = await imagine(discord_fake, "during", BOB)
        assert await private_error(discord_fake, refused) == (
            "The bot can't reach its database right now. Try again in a minute."
        )
        relay.hold.set()  # the running picture is made while the database is still away
        await until(lambda: relay.in_flight == 0)
        await asyncio.to_thread(own_postgres.start)

        result = await wait_result(discord_fake, running, timeout=30)
        assert result.files
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT status, delivered_at FROM jobs ORDER BY id")
        finally:
            await conn.close()
        assert len(rows) == 1 and rows[0]["status"] == "done"

        await eventually(lambda: healthy(port))
        again = await imagine(discord_fake, "after", BOB)
        assert (await wait_result(discord_fake, again, timeout=30)).files
        assert [c.body["contents"][0]["parts"][0]["text"] for c in relay.generate_calls()] == [
            "before",
            "after",
        ]
