"""Fixtures: the fake relay, the fake Discord, and a real bot connected to both."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.config import GeminiAuth, Settings
from bot.http import RetryPolicy
from bot.routing import parse_models
from bot.ui.client import BananaBot, use_discord_endpoints
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.servers import PostgresServer, RedisServer, new_database, start_postgres, start_redis

API_KEY = "sk-relaysecret0123456789abcdef"
BOT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.bot-token-for-tests"
FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, deadline=20)
# The tree these tests belong to. A `python -m bot` the tests start runs its code (PYTHONPATH), not the
# checkout the venv's editable install points at.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (started on first use; see tests/servers.py)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the session (started on first use; see tests/servers.py)."""
    server = start_redis()
    yield server
    server.stop(remove=True)


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A new, empty database on the session's server for this test alone."""
    async with new_database(postgres_server) as url:
        yield url


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    fake = FakeRelay()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def make_settings(relay: FakeRelay, discord_fake: FakeDiscord, tmp_path: Path) -> Callable[..., Settings]:
    def make(**changes: Any) -> Settings:
        base = Settings(
            discord_token=BOT_TOKEN,
            api_key=API_KEY,
            api_base_url=relay.base_url,
            models=tuple(
                parse_models(
                    "gemini-2.5-flash-image,gemini-3-pro-image-preview,gemini-3.1-flash-image-preview"
                )
            ),
            gemini_auth=GeminiAuth.BEARER,
            data_dir=tmp_path / "data",
            request_timeout=10,
            discord_api_url=discord_fake.api_url,
            discord_gateway_url=discord_fake.gateway_url,
        )
        return dataclasses.replace(base, **changes)

    return make


@pytest.fixture
async def start_bot(
    make_settings: Callable[..., Settings], discord_fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[BananaBot]]]:
    """Start a real BananaBot on the fakes through the gateway; it is closed after the test."""
    # discord.py keeps its endpoints in class attributes; restore them after the test.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    started: list[tuple[BananaBot, asyncio.Task[None]]] = []

    async def start(**changes: Any) -> BananaBot:
        settings = make_settings(**changes)
        use_discord_endpoints(settings.discord_api_url, settings.discord_gateway_url)
        bot = BananaBot(settings, retry_policy=FAST_RETRIES)
        started.append((bot, asyncio.create_task(bot.start(settings.discord_token))))
        await asyncio.wait_for(discord_fake.ready.wait(), 10)
        return bot

    yield start
    for bot, task in started:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
