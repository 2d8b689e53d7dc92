"""Gateway sharding: which client class `BananaBot` becomes, what it connects, and its shards' health.

SHARD_COUNT=0 (the default) leaves `BananaBot` the plain `commands.Bot` it always was: one gateway
connection, an IDENTIFY without a `shard` field. SHARD_COUNT>0 makes it discord.py's
`AutoShardedBot` with `shard_count` and `shard_ids` (SHARD_IDS, else all of them), so several
gateway processes can split the shards between them. With a shard count given, discord.py connects
to the configured gateway directly (no `GET /gateway/bot`); the only REST call added here is the
one that reads `session_start_limit.max_concurrency`, for pacing the IDENTIFYs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
from discord.ext import commands

from bot.config import Settings
from bot.i18n import Catalog

log = logging.getLogger(__name__)

# Discord accepts one IDENTIFY per rate-limit bucket every 5 seconds; a shard's bucket is
# `shard_id % max_concurrency` (max_concurrency from GET /gateway/bot's session_start_limit).
IDENTIFY_INTERVAL = 5.0

T = TypeVar("T", bound=commands.Bot)


def is_sharded(settings: Settings) -> bool:
    return settings.shard_count > 0


def held_shards(settings: Settings) -> tuple[int, ...]:
    """The shards this process connects: SHARD_IDS, else every shard of SHARD_COUNT; () unsharded."""
    return settings.shard_ids or tuple(range(settings.shard_count))


def shard_options(settings: Settings) -> dict[str, Any]:
    """The client's keyword arguments for sharding; none when unsharded, so the plain Bot is unchanged."""
    if not is_sharded(settings):
        return {}
    return {"shard_count": settings.shard_count, "shard_ids": list(held_shards(settings))}


class IdentifyPacer:
    """Spaces this process's IDENTIFYs as Discord's session start limit asks: shards of different
    buckets may identify together, shards of one bucket 5 s apart. (discord.py's own default waits
    5 s before every IDENTIFY but the first, whatever the bucket.)"""

    def __init__(self) -> None:
        self._concurrency: int | None = None
        self._last: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, client: discord.AutoShardedClient, shard_id: int) -> None:
        async with self._lock:
            if self._concurrency is None:
                self._concurrency = await _max_concurrency(client)
            bucket = shard_id % self._concurrency
            last = self._last.get(bucket)
            if last is not None:
                await asyncio.sleep(max(0.0, last + IDENTIFY_INTERVAL - time.monotonic()))
            self._last[bucket] = time.monotonic()


async def _max_concurrency(client: discord.AutoShardedClient) -> int:
    try:
        limits = await client.fetch_session_start_limits()
    except (discord.GatewayNotFound, discord.HTTPException) as exc:
        # Unknown: one bucket, which is what discord.py assumes too.
        log.warning(
            "Could not read the gateway's session start limit (%s); identifying shards 5 s apart", exc
        )
        return 1
    return max(1, limits.max_concurrency)


class _Sharded:
    """Mixed in before the bot's own class, with `commands.AutoShardedBot` after it."""

    _identify_pacer: IdentifyPacer
    _launching: asyncio.Task[None] | None = None
    _stopping = False

    async def launch_shards(self) -> None:
        # discord.py's launch_shard retries a failed connection every 5 s for as long as it fails,
        # even once the client is closed and its session gone: a stop while shards still wait for
        # their turn to IDENTIFY would never end. So the launch is a task of its own that close()
        # cancels; the shards already connected are closed by discord.py as usual.
        if self._stopping:
            return
        self._launching = asyncio.create_task(super().launch_shards(), name="shard-launch")  # type: ignore[misc]
        try:
            await asyncio.wait([self._launching])
        except asyncio.CancelledError:
            self._launching.cancel()
            raise
        if not self._launching.cancelled():
            self._launching.result()

    async def close(self) -> None:
        self._stopping = True
        self._stop_launch()
        try:
            await super().close()  # type: ignore[misc]
        finally:
            self._stop_launch()  # a launch that began while the jobs drained

    def _stop_launch(self) -> None:
        if self._launching is not None and not self._launching.done():
            self._launching.cancel()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not hasattr(self, "_identify_pacer"):
            self._identify_pacer = IdentifyPacer()
        assert isinstance(self, discord.AutoShardedClient)
        await self._identify_pacer.wait(self, shard_id or 0)


_CLASSES: dict[type, type] = {}


def client_class(cls: type[T], settings: Settings) -> type[T]:
    """`cls` itself when unsharded; else `cls` on top of `commands.AutoShardedBot` (made once per class).

    `BananaBot` stays one class to read and to derive from; only the connection machinery underneath
    changes: `AutoShardedBot` and `Bot` share `BotBase`, and `AutoShardedClient` overrides the
    connection methods of `Client` that `Bot` would use.
    """
    if not is_sharded(settings) or issubclass(cls, discord.AutoShardedClient):
        return cls
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Sharded{cls.__name__}", (_Sharded, cls, commands.AutoShardedBot), {})
    return _CLASSES[cls]


@dataclass(frozen=True)
class GatewayState:
    connected: bool
    # Sharded: each shard this process holds and whether its connection is open; None unsharded.
    shards: dict[int, bool] | None


def gateway_state(client: discord.Client, settings: Settings) -> GatewayState:
    # The sockets themselves say whether they are open (an on_disconnect listener would not: discord.py
    # dispatches that event even after close, when it can no longer schedule it).
    if not isinstance(client, discord.AutoShardedClient):
        return GatewayState(not client.is_closed() and client.ws is not None and client.ws.open, None)
    shards: dict[int, bool] = {}
    for shard_id in held_shards(settings):
        # A shard still waiting for its turn to IDENTIFY has no entry yet: not connected.
        info = client.get_shard(shard_id)
        shards[shard_id] = info is not None and not info.is_closed()
    return GatewayState(not client.is_closed() and all(shards.values()), shards)


def shards_text(shards: dict[int, bool], count: int, catalog: Catalog, locale: str) -> str:
    """/status's line: the shards this process holds, of how many, and any not connected now."""
    text = catalog.text("status.shards_value", locale, held=_numbers(shards), count=count)
    down = {shard: up for shard, up in shards.items() if not up}
    if down:
        text += "\n" + catalog.text("status.shards_down", locale, shards=_numbers(down))
    return text


def _numbers(shards: dict[int, bool]) -> str:
    return ", ".join(str(shard) for shard in sorted(shards))
