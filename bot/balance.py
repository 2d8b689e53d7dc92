"""The relay's remaining balance, read at start and every BALANCE_CHECK_MINUTES, never per command.

new-api answers `GET /api/usage/token/` with the key's quota in units (QUOTA_PER_UNIT per unit of
the owner's currency); new-api and one-api answer the OpenAI-style billing pair
`/v1/dashboard/billing/subscription` (`hard_limit_usd`: what was granted) and `/usage`
(`total_usage`: what was used, in hundredths). Both may answer HTTP 200 with an `error` body. A
relay with neither, or Google's own API, has an unknown balance: never an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.config import Relay, Settings
from bot.errors import UpstreamError
from bot.http import HttpClient
from bot.notices import Notice, NoticeKind, OwnerNotices
from bot.pricing import money
from bot.providers.registry import model_list_format

log = logging.getLogger(__name__)

TIMEOUT = 10.0


@dataclass(frozen=True)
class Balance:
    relay: str
    remaining: float | None  # in the owner's unit; None: the relay does not say
    unlimited: bool = False
    checked_at: float = 0.0  # wall clock


class BalanceWatcher:
    def __init__(self, settings: Settings, http: HttpClient, notices: OwnerNotices | None = None) -> None:
        self.settings = settings
        self.http = http
        self.notices = notices
        self.balances: dict[str, Balance] = {}
        self._low: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="balance-watcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.settings.balance_check_minutes * 60)

    async def check(self) -> list[Balance]:
        """Read every relay's balance once, and tell the owner of one that fell under LOW_BALANCE."""
        found = []
        for relay in self.settings.relays:
            try:
                balance = await self.read(relay)
            except Exception as exc:  # the watch goes on whatever one relay answers
                log.info("Could not read relay %s's balance: %s", relay.name, type(exc).__name__)
                balance = Balance(relay.name, None, checked_at=time.time())
            self.balances[relay.name] = balance
            self._judge(balance)
            found.append(balance)
        return found

    async def read(self, relay: Relay) -> Balance:
        target = relay.target(model_list_format())
        now = time.time()
        if (urlsplit(target.base_url).hostname or "").endswith("googleapis.com"):
            return Balance(relay.name, None, checked_at=now)
        headers = {"Authorization": f"Bearer {target.api_key}"}
        token = await self._get(f"{target.base_url}/api/usage/token/", headers)
        data = token.get("data") if isinstance(token, dict) and token.get("code") is not False else None
        if isinstance(data, dict) and "total_available" in data:
            if data.get("unlimited_quota"):
                return Balance(relay.name, None, unlimited=True, checked_at=now)
            return Balance(
                relay.name, float(data["total_available"]) / self.settings.quota_per_unit, checked_at=now
            )
        subscription = await self._get(f"{target.base_url}/v1/dashboard/billing/subscription", headers)
        granted = _number(subscription, "hard_limit_usd")
        if granted is None:
            return Balance(relay.name, None, checked_at=now)
        usage = await self._get(f"{target.base_url}/v1/dashboard/billing/usage", headers)
        used = _number(usage, "total_usage")
        if used is None:
            return Balance(relay.name, None, checked_at=now)
        return Balance(relay.name, granted - used / 100, checked_at=now)

    async def _get(self, url: str, headers: dict[str, str]) -> Any:
        try:
            response = await self.http.request("GET", url, headers=headers, timeout=TIMEOUT)
            return response.json()
        except UpstreamError:
            return None

    def _judge(self, balance: Balance) -> None:
        low = self.settings.low_balance
        if not low or balance.remaining is None:
            return
        if balance.remaining >= low:
            self._low.discard(balance.relay)
            return
        if balance.relay in self._low:
            return  # told once; told again only after it was topped up and fell again
        self._low.add(balance.relay)
        if self.notices is not None:
            self.notices.tell(
                Notice(
                    NoticeKind.LOW_BALANCE,
                    balance.relay,
                    {
                        "relay": balance.relay,
                        "left": money(balance.remaining),
                        "low": money(low),
                        "currency": self.settings.currency,
                    },
                )
            )


def _number(data: Any, name: str) -> float | None:
    """A number from a billing answer; None for an `error` body (relays answer those with 200)."""
    if not isinstance(data, dict) or data.get("error") or not isinstance(data.get(name), int | float):
        return None
    return float(data[name])
