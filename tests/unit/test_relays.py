"""Fallback between relays and the breaker of each relay, with a clock the tests move."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.attempts import attempts_left, next_relay_waits, picture_budget, take_attempt
from bot.errors import (
    BotError,
    ContentBlocked,
    RelaysResting,
    UnsafeResultUrl,
    UpstreamAuthFailed,
    UpstreamModelNotFound,
    UpstreamRejectedRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.relays import BreakerState, RelayPool, qualify_task, split_task
from bot.routing import ModelRoute

TWO = ModelRoute("gemini-2.5-flash-image", "gemini", ("main", "backup"))
ONE = ModelRoute("gemini-2.5-flash-image", "gemini", ("main",))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Relay:
    """A relay's provider: fails with the queued errors, then serves."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors: list[BaseException] = []
        self.down: BaseException | None = None
        self.calls = 0
        self.moving_on: list[bool] = []

    async def serve(self) -> str:
        self.calls += 1
        self.moving_on.append(next_relay_waits())
        take_attempt()
        if self.errors:
            raise self.errors.pop(0)
        if self.down is not None:
            raise self.down
        return f"picture from {self.name}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def relays() -> dict[str, Relay]:
    return {"main": Relay("main"), "backup": Relay("backup")}


@pytest.fixture
def pool(relays: dict[str, Relay], clock: Clock) -> RelayPool:
    providers: dict[str, Any] = {name: {"gemini": relay} for name, relay in relays.items()}
    return RelayPool(providers, failures=3, seconds=60, clock=clock)


async def picture(pool: RelayPool, route: ModelRoute = TWO, attempts: int = 3) -> tuple[str, str]:
    async def call(provider: Any, relay: str) -> str:
        assert provider.name == relay
        return await provider.serve()

    with picture_budget(attempts):
        return await pool.serve(route, call)


async def rested(pool: RelayPool, relays: dict[str, Relay], clock: Clock) -> Relay:
    """Main, down, failed until its breaker opened, and its rest over: the next picture probes it."""
    main = relays["main"]
    main.down = UpstreamUnavailable("503", status=503)
    for _ in range(pool.failures):
        await picture(pool)
    clock.now += pool.seconds + 1
    return main


def states(pool: RelayPool) -> dict[str, BreakerState]:
    return {s.name: s.state for s in pool.status()}


@pytest.mark.parametrize(
    "error",
    [
        UpstreamUnavailable("503", status=503),
        UpstreamTimeout("slow", seconds=10),
        UpstreamAuthFailed("key refused", status=401),
        UpstreamModelNotFound("not offered", status=400),
        UnsafeResultUrl("link into a refused network"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_relay_failure_moves_the_picture_to_the_next_relay(
    pool: RelayPool, relays: dict[str, Relay], error: BotError
) -> None:
    relays["main"].errors = [error]
    assert await picture(pool) == ("picture from backup", "backup")
    assert (relays["main"].calls, relays["backup"].calls) == (1, 1)
    # The first relay's call knew a next relay waits (so the HTTP layer does not retry it); the
    # last relay's did not (so it may retry within the budget).
    assert relays["main"].moving_on == [True] and relays["backup"].moving_on == [False]


@pytest.mark.parametrize(
    "error",
    [ContentBlocked("unsafe", reason_key="block.policy"), UpstreamRejectedRequest("bad size", status=400)],
    ids=lambda e: type(e).__name__,
)
async def test_a_safety_block_or_a_bad_request_stays_where_it_is(
    pool: RelayPool, relays: dict[str, Relay], error: BotError
) -> None:
    relays["main"].errors = [error]
    with pytest.raises(type(error)):
        await picture(pool)
    assert relays["backup"].calls == 0
    assert pool.status()[0].failures == 0, "a member's mistake is not the relay's failure"


async def test_a_single_relay_model_has_no_fallback_and_no_breaker(
    pool: RelayPool, relays: dict[str, Relay]
) -> None:
    relays["main"].down = UpstreamUnavailable("503", status=503)
    for _ in range(5):
        with pytest.raises(UpstreamUnavailable):
            await picture(pool, ONE)
    assert relays["main"].calls == 5 and relays["main"].moving_on == [False] * 5
    assert states(pool) == {"main": BreakerState.CLOSED, "backup": BreakerState.CLOSED}


async def test_the_budget_is_shared_across_relays(pool: RelayPool, relays: dict[str, Relay]) -> None:
    relays["main"].errors = [UpstreamUnavailable("503", status=503)]
    with pytest.raises(UpstreamUnavailable):
        await picture(pool, attempts=1)
    assert relays["backup"].calls == 0, "no call left for the backup"


async def test_the_last_relays_error_is_the_members(pool: RelayPool, relays: dict[str, Relay]) -> None:
    relays["main"].errors = [UpstreamUnavailable("503", status=503)]
    relays["backup"].errors = [UpstreamAuthFailed("key refused", status=401)]
    with pytest.raises(UpstreamAuthFailed):
        await picture(pool)


async def test_the_breaker_opens_after_failures_in_a_row_and_a_probe_closes_it(
    pool: RelayPool, relays: dict[str, Relay], clock: Clock
) -> None:
    main = relays["main"]
    main.down = UpstreamUnavailable("503", status=503)
    for _ in range(3):
        assert (await picture(pool))[1] == "backup"
    assert main.calls == 3 and states(pool)["main"] is BreakerState.OPEN
    (shown,) = [s for s in pool.status() if s.name == "main"]
    assert shown.until is not None

    assert (await picture(pool))[1] == "backup"
    assert main.calls == 3, "an open breaker sends the model straight to its next relay"

    clock.now += 59
    assert (await picture(pool))[1] == "backup" and main.calls == 3
    clock.now += 2
    main.down = None
    assert await picture(pool) == ("picture from main", "main")
    assert main.calls == 4 and states(pool)["main"] is BreakerState.CLOSED
    assert pool.status()[0].failures == 0


async def test_a_failed_probe_opens_the_breaker_again(
    pool: RelayPool, relays: dict[str, Relay], clock: Clock
) -> None:
    main = await rested(pool, relays, clock)
    assert (await picture(pool))[1] == "backup"
    assert main.calls == 4, "one picture probed the relay"
    assert states(pool)["main"] is BreakerState.OPEN
    assert (await picture(pool))[1] == "backup" and main.calls == 4, "open again for a full rest"


async def test_one_probe_at_a_time(pool: RelayPool, relays: dict[str, Relay], clock: Clock) -> None:
    main = await rested(pool, relays, clock)
    main.down = None
    probe_started = asyncio.Event()
    release = asyncio.Event()
    served = main.serve

    async def slow_serve() -> str:
        probe_started.set()
        await release.wait()
        return await served()

    main.serve = slow_serve  # type: ignore[method-assign]
    probe = asyncio.create_task(picture(pool))
    await probe_started.wait()
    assert states(pool)["main"] is BreakerState.PROBING
    assert (await picture(pool))[1] == "backup", "the others pass the relay by while it is probed"
    release.set()
    assert (await probe)[1] == "main"
    assert states(pool)["main"] is BreakerState.CLOSED


async def test_a_cancelled_probe_lets_the_next_picture_probe(
    pool: RelayPool, relays: dict[str, Relay], clock: Clock
) -> None:
    main = await rested(pool, relays, clock)
    started = asyncio.Event()

    async def hang() -> str:
        started.set()
        await asyncio.Event().wait()
        return ""

    main.serve = hang  # type: ignore[method-assign]
    probe = asyncio.create_task(picture(pool))
    await started.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert states(pool)["main"] is not BreakerState.PROBING
    main.serve = Relay("main").serve  # type: ignore[method-assign]
    assert (await picture(pool))[1] == "main"


async def test_every_relay_resting_refuses_at_once_with_the_time_to_come_back(
    pool: RelayPool, relays: dict[str, Relay], clock: Clock
) -> None:
    for relay in relays.values():
        relay.down = UpstreamUnavailable("503", status=503)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await picture(pool)
    calls = relays["main"].calls + relays["backup"].calls
    with pytest.raises(RelaysResting) as resting:
        await picture(pool)
    assert relays["main"].calls + relays["backup"].calls == calls, "no call while both rest"
    assert resting.value.params["retry_at"] > 0


async def test_no_budget_outside_a_picture_means_no_limit() -> None:
    assert attempts_left() is None and take_attempt()


def test_task_ids_name_their_relay_unless_it_is_main() -> None:
    names = ("main", "backup")
    assert qualify_task("main", "1712") == "1712"
    assert qualify_task("backup", "1712") == "backup@1712"
    assert split_task("backup@1712", names) == ("backup", "1712")
    assert split_task("1712", names) == ("main", "1712")
    # A relay that is no longer configured, or an id that has an @ of its own, stays on main.
    assert split_task("gone@1712", names) == ("main", "gone@1712")
