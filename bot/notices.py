"""What the owner is told about, in OWNER_LOG_CHANNEL when set and in the log always: a low relay
balance, a budget reached, the relay refusing the key, a model the relay no longer offers.

Each subject is told at most once an hour, so a busy server's hundred refusals are one message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.i18n import FALLBACK_LOCALE, Catalog

log = logging.getLogger(__name__)

EVERY = 3600.0


class NoticeKind(StrEnum):
    LOW_BALANCE = "low_balance"
    BUDGET_REACHED = "budget_reached"
    KEY_REFUSED = "key_refused"
    MODEL_GONE = "model_gone"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    subject: str  # what it is about: the relay, the model, the budget and whose
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"owner.{self.kind.value}"


Poster = Callable[[Notice], Awaitable[None]]


def render(notice: Notice, catalog: Catalog, locale: str = FALLBACK_LOCALE) -> str:
    """The notice's sentence; params ending in `_key` are catalog keys themselves."""
    params = dict(notice.params)
    for name, value in notice.params.items():
        if name.endswith("_key"):
            params[name.removesuffix("_key")] = catalog.text(str(value), locale, **notice.params)
    return catalog.text(notice.key, locale, **params)


class OwnerNotices:
    def __init__(
        self, catalog: Catalog, *, every: float = EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.catalog = catalog
        self.every = every
        self._clock = clock
        self._last: dict[tuple[NoticeKind, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Set by the Discord side when OWNER_LOG_CHANNEL is set: posts the notice there.
        self.post: Poster | None = None

    def tell(self, notice: Notice) -> bool:
        """Log the notice and post it, unless the same subject was told within the hour."""
        now = self._clock()
        subject = (notice.kind, notice.subject)
        last = self._last.get(subject)
        if last is not None and now - last < self.every:
            return False
        self._last[subject] = now
        log.warning("Owner notice: %s", render(notice, self.catalog))
        if self.post is not None:
            task = asyncio.get_running_loop().create_task(self._post(notice))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _post(self, notice: Notice) -> None:
        assert self.post is not None
        try:
            await self.post(notice)
        except Exception as exc:  # a notice is a courtesy: never a failure of what caused it
            log.warning("Could not post an owner notice in OWNER_LOG_CHANNEL: %s", type(exc).__name__)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
