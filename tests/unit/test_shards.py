"""bot/ui/shards.py: the client class SHARD_COUNT picks, and the pacing of a process's IDENTIFYs."""

from __future__ import annotations

import logging

import discord
import pytest
from discord.ext import commands

from bot.config import Settings
from bot.ui import shards
from bot.ui.client import BananaBot
from bot.ui.shards import IdentifyPacer


async def test_unsharded_the_bot_is_the_plain_bot_and_sharded_it_is_an_auto_sharded_one() -> None:
    plain = BananaBot(Settings(discord_token="t", api_key="k"))
    assert type(plain) is BananaBot and not isinstance(plain, discord.AutoShardedClient)
    assert plain.shard_count is None

    sharded = BananaBot(Settings(discord_token="t", api_key="k", shard_count=4, shard_ids=(1, 3)))
    assert isinstance(sharded, BananaBot) and isinstance(sharded, commands.AutoShardedBot)
    assert (sharded.shard_count, sharded.shard_ids) == (4, [1, 3])
    every = BananaBot(Settings(discord_token="t", api_key="k", shard_count=2))
    assert (every.shard_count, every.shard_ids) == (2, [0, 1])
    assert type(every) is type(sharded), "one sharded class per bot class"
    for bot in (plain, sharded, every):
        # As every caller does: discord.py's sharded client can close only once set up.
        async with bot:
            pass


class Limits:
    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency


class Client:
    def __init__(self, max_concurrency: int | None) -> None:
        self.max_concurrency = max_concurrency
        self.asked = 0

    async def fetch_session_start_limits(self) -> Limits:
        self.asked += 1
        if self.max_concurrency is None:
            raise discord.GatewayNotFound()
        return Limits(self.max_concurrency)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pacer's sleeps, on a clock that stands still (so each wait is the whole 5 s or none)."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(shards.asyncio, "sleep", sleep)
    monkeypatch.setattr(shards.time, "monotonic", lambda: 100.0)
    return slept


@pytest.mark.parametrize(
    ("max_concurrency", "expected"),
    [
        (1, [5.0, 5.0, 5.0]),  # one bucket: every IDENTIFY after the first waits
        (2, [5.0, 5.0]),  # shards 0, 1 at once; 2 waits for 0, 3 for 1
        (4, []),  # four buckets: all four at once
        (None, [5.0, 5.0, 5.0]),  # the limit unknown: one bucket, as discord.py assumes
    ],
)
async def test_identifies_wait_only_for_their_own_bucket(
    waits: list[float], max_concurrency: int | None, expected: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    pacer, client = IdentifyPacer(), Client(max_concurrency)
    with caplog.at_level(logging.WARNING):
        for shard_id in range(4):
            await pacer.wait(client, shard_id)  # type: ignore[arg-type]
    assert [w for w in waits if w] == expected
    assert client.asked == 1, "the limit is read once per process"
    assert ("session start limit" in caplog.text) == (max_concurrency is None)
