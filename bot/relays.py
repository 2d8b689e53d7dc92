"""Fallback between relays: a model served by several relays moves a failing picture to the next one.

A model in MODELS lists its relays in order (`name@main+backup`). A picture is sent to the first
relay that is not resting; when that relay fails it for a reason another relay may not share (an
outage, a timeout, a rate limit, a refused key, a model it does not offer, a result it cannot hand
over), the picture moves to the next relay at once, without the HTTP layer's retries on the first,
and within the picture's one MAX_ATTEMPTS budget. A safety block or a member's bad input would
fail the same way anywhere, so it ends the picture where it is.

Each relay has a circuit breaker, used only by models with more than one relay: after
BREAKER_FAILURES failures in a row it opens for BREAKER_SECONDS, and its models go straight to
their next relay; then one real picture is let through as a probe, whose success closes it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bot.attempts import attempts_left, moving_on
from bot.errors import BotError, RelaysResting
from bot.providers.base import ImageProvider
from bot.routing import MAIN_RELAY, ModelRoute

log = logging.getLogger(__name__)

T = TypeVar("T")
# Task ids from a relay other than main carry its name, so that polling, buttons and cancelling
# after a restart reach the relay that runs the task: `backup@1712345678`.
_TASK_SEPARATOR = "@"


class BreakerState(StrEnum):
    CLOSED = "closed"  # serving
    OPEN = "open"  # passed over until `until`
    PROBING = "probing"  # its rest is over; one picture is trying it


@dataclass(frozen=True)
class RelayStatus:
    """A relay's state for /status: `until` is the wall-clock end of an open breaker's rest."""

    name: str
    state: BreakerState
    failures: int
    until: float | None = None


@dataclass
class _Breaker:
    failures: int = 0
    resting_until: float | None = None  # monotonic
    probe_out: bool = False


class RelayPool:
    """The providers of every relay, and the breakers that decide which relay a picture goes to."""

    def __init__(
        self,
        providers: Mapping[str, Mapping[str, ImageProvider]],
        *,
        failures: int,
        seconds: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """`providers` maps a relay's name to its providers by format; main comes first."""
        self._providers = providers
        self.failures = failures
        self.seconds = seconds
        # Read through the module at each call, so a test can move the bot's clock on.
        self._clock = clock or (lambda: time.monotonic())
        self._breakers = {name: _Breaker() for name in providers}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._providers)

    def provider(self, relay: str, api_format: str) -> ImageProvider | None:
        return self._providers.get(relay, {}).get(api_format)

    async def serve(
        self, route: ModelRoute, call: Callable[[ImageProvider, str], Awaitable[T]]
    ) -> tuple[T, str]:
        """Run `call` on the route's relays in turn until one serves; the result and its relay.

        `call` gets the provider and the relay's name. Raises the last relay's error, or
        RelaysResting when every relay of a multi-relay route is resting.
        """
        if len(route.relays) == 1:
            relay = route.relays[0]
            return await call(self._provider(relay, route), relay), relay
        chosen = self._choose(route.relays)
        tried: set[str] = set()
        try:
            for position, relay in enumerate(chosen):
                last = position == len(chosen) - 1
                tried.add(relay)
                try:
                    with moving_on(not last):
                        result = await call(self._provider(relay, route), relay)
                except BotError as exc:
                    if not exc.relay_specific:
                        self._release(relay)
                        raise
                    self._failed(relay)
                    if last or attempts_left() == 0:
                        raise
                    log.warning(
                        "%s failed on relay %s (%s); moving the picture to relay %s",
                        route.name,
                        relay,
                        type(exc).__name__,
                        chosen[position + 1],
                    )
                    continue
                except BaseException:
                    self._release(relay)
                    raise
                self._succeeded(relay)
                return result, relay
        finally:
            for relay in chosen:
                if relay not in tried:
                    self._release(relay)
        raise AssertionError("unreachable: the last relay returns or raises")

    def status(self) -> list[RelayStatus]:
        now = self._clock()
        wall = time.time()
        shown: list[RelayStatus] = []
        for name, breaker in self._breakers.items():
            if breaker.probe_out:
                shown.append(RelayStatus(name, BreakerState.PROBING, breaker.failures))
            elif breaker.resting_until is not None and breaker.resting_until > now:
                until = wall + (breaker.resting_until - now)
                shown.append(RelayStatus(name, BreakerState.OPEN, breaker.failures, until))
            else:
                shown.append(RelayStatus(name, BreakerState.CLOSED, breaker.failures))
        return shown

    # --- the breakers -----------------------------------------------------------------------------

    def _provider(self, relay: str, route: ModelRoute) -> ImageProvider:
        provider = self.provider(relay, route.format)
        if provider is None:
            raise KeyError(f"relay {relay!r} has no {route.format} provider")
        return provider

    def _choose(self, relays: tuple[str, ...]) -> list[str]:
        """The relays to try now, in order: closed ones, and a resting one whose rest is over (it is
        probed by this picture alone); RelaysResting when none is left."""
        now = self._clock()
        chosen: list[str] = []
        for relay in relays:
            breaker = self._breakers[relay]
            if breaker.probe_out:
                continue
            if breaker.resting_until is not None:
                if breaker.resting_until > now:
                    continue
                breaker.probe_out = True
                log.info("Relay %s rested for %.0fs; one picture tries it again", relay, self.seconds)
            chosen.append(relay)
        if not chosen:
            ends = [b.resting_until for r in relays if (b := self._breakers[r]).resting_until is not None]
            wait = max(0.0, min(ends) - now) if ends else self.seconds
            raise RelaysResting("every relay of the model is resting", retry_at=time.time() + wait)
        return chosen

    def _failed(self, relay: str) -> None:
        breaker = self._breakers[relay]
        breaker.failures += 1
        probing, breaker.probe_out = breaker.probe_out, False
        if probing or breaker.failures >= self.failures:
            breaker.resting_until = self._clock() + self.seconds
            log.warning(
                "Relay %s failed %d times in a row: its models go to their next relay for %.0fs",
                relay,
                breaker.failures,
                self.seconds,
            )

    def _succeeded(self, relay: str) -> None:
        breaker = self._breakers[relay]
        if breaker.resting_until is not None:
            log.info("Relay %s serves again", relay)
        self._breakers[relay] = _Breaker()

    def _release(self, relay: str) -> None:
        """A probe that ended without a verdict (a safety block, a cancel) lets another picture try."""
        self._breakers[relay].probe_out = False


def qualify_task(relay: str, task_id: str) -> str:
    """A task id that names its relay when that is not main."""
    return task_id if relay == MAIN_RELAY else f"{relay}{_TASK_SEPARATOR}{task_id}"


def split_task(task_id: str, relays: tuple[str, ...]) -> tuple[str, str]:
    """The relay and the relay's own id of a task id made by `qualify_task`."""
    relay, sep, own = task_id.partition(_TASK_SEPARATOR)
    if sep and relay in relays:
        return relay, own
    return MAIN_RELAY, task_id
