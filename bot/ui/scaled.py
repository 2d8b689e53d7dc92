"""What `/healthz` adds for a gateway or a worker process (bot/scaleout.py)."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from bot.health import Health
from bot.scaleout import Role

if TYPE_CHECKING:
    from bot.ui.client import BananaBot

log = logging.getLogger(__name__)


async def scaled_health(bot: BananaBot, health: Health) -> Health:
    if bot.role is Role.ALL or bot.scale is None:
        return health
    if bot.role is Role.WORKER:
        # A worker holds no gateway connection: Discord is reached over REST, logged in once.
        return replace(health, gateway_connected=bot.user is not None and not bot.is_closed(), role="worker")
    try:
        status = await bot.scale.status()
    except Exception as exc:  # the queue or the journal away: the store check says the rest
        log.warning("Health: the workers and the queue could not be read (%s: %s)", type(exc).__name__, exc)
        return replace(health, role="gateway")
    workers = tuple(asdict(w) for w in status.workers)
    # Waiting: in this gateway's fair turns, and handed to the queue but not yet taken by a worker.
    queue = {"depth": health.queue_depth + status.queue.waiting, "running": status.queue.running}
    return replace(health, role="gateway", workers=workers, queue=queue)
