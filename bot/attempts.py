"""What one picture may cost upstream: at most MAX_ATTEMPTS calls that can make a picture, in all.

A relay retries by itself, and the SDK inside it again: every call the bot adds can be billed. So
the HTTP layer's retries, an adapter's "no picture, try once more" and a task API's resubmits all
draw on one budget per picture; polling a task or downloading a result does not. The budget lives
in a context variable, set around each picture's call, so it follows the call without being passed
through every layer, and parallel pictures each get their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Budget:
    left: int


_budget: ContextVar[Budget | None] = ContextVar("picture_budget", default=None)


@contextlib.contextmanager
def picture_budget(attempts: int) -> Iterator[Budget]:
    budget = Budget(attempts)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def take_attempt() -> bool:
    """Use one call of the current picture's budget; False when none is left (no budget: always)."""
    budget = _budget.get()
    if budget is None:
        return True
    if budget.left <= 0:
        return False
    budget.left -= 1
    return True


def attempts_left() -> int | None:
    """How many calls the current picture may still make; None outside a picture's call."""
    budget = _budget.get()
    return None if budget is None else budget.left


# Set while a model's next relay can take the picture over: a failed call then ends at once, so the
# picture moves there instead of the HTTP layer retrying a relay that may be down (bot.relays).
_moving_on: ContextVar[bool] = ContextVar("moving_on", default=False)


@contextlib.contextmanager
def moving_on(flag: bool) -> Iterator[None]:
    token = _moving_on.set(flag)
    try:
        yield
    finally:
        _moving_on.reset(token)


def next_relay_waits() -> bool:
    """Whether a failed call should end at once, because another relay takes the picture over."""
    return _moving_on.get()
