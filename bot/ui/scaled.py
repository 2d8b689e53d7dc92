"""What `/healthz` adds for a gateway or a worker process (bot/scaleout.py)."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from bot.health import Health
from bot.i18n import Catalog
from bot.jobs.shared import bot_slots
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


async def workers_field(bot: BananaBot, catalog: Catalog, locale: str) -> tuple[int, int, str] | None:
    """A gateway's view of the workers: the bot's slots, the jobs waiting, and one line per worker."""
    if bot.scale is None or bot.role is not Role.GATEWAY:
        return None
    waiting = bot.jobs.load()[0]
    try:
        status = await bot.scale.status()
    except Exception:
        return 0, waiting, catalog.text("status.workers_unknown", locale)
    alive = [w for w in status.workers if w.alive]
    slots = bot_slots(sum(w.concurrency for w in alive), bot.settings.global_max_concurrent_jobs)
    lines = [
        catalog.text("status.worker_line", locale, worker=w.id, running=w.running, slots=w.concurrency)
        if w.alive
        else catalog.text("status.worker_gone", locale, worker=w.id, seen=int(w.seen_at))
        for w in status.workers
    ]
    text = "\n".join(lines) if alive else "\n".join([catalog.text("status.workers_none", locale), *lines])
    return slots, waiting + status.queue.waiting, text
