"""One picture costs a bounded number of upstream calls, whatever the relay does (issue 12, defect 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.helpers import imagine, private_error, wait_result
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.fakes.relay.retrying import RetryingRelay

BUSY = "The image service is unavailable right now. Please try again in a few minutes."
TIMED_OUT = "The image service took too long to answer. Please try again; a simpler prompt or a smaller size can help."


async def test_every_retry_path_shares_one_budget_per_picture(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    # A "no picture" answer is worth one more try, and a 503 is retried: together, still 3 calls.
    relay.queue("no_image", "http_503", "http_503", "http_503", "http_503")
    sent = await imagine(discord_fake, prompt="a lighthouse")
    assert await private_error(discord_fake, sent) == BUSY
    assert len(relay.generate_calls()) == 3


async def test_max_attempts_is_the_owners_to_set(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(max_attempts=1)
    relay.queue("http_503", "http_503")
    assert await private_error(discord_fake, await imagine(discord_fake, prompt="x")) == BUSY
    assert len(relay.generate_calls()) == 1


async def test_each_picture_of_a_set_has_its_own_budget(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(max_attempts=2)
    relay.queue(*["http_503"] * 4)
    assert await private_error(discord_fake, await imagine(discord_fake, prompt="x", count=2)) == BUSY
    assert len(relay.generate_calls()) == 4


async def test_a_generation_that_timed_out_is_sent_once(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.slow_seconds = 30  # far past the request timeout: the upstream hangs
    await start_bot(request_timeout=0.3)
    relay.queue("slow", "slow", "slow")
    assert await private_error(discord_fake, await imagine(discord_fake, prompt="x")) == TIMED_OUT
    assert len(relay.generate_calls()) == 1, "a hung upstream gets exactly one call per picture"


async def test_retry_timeouts_sends_it_again(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    relay.slow_seconds = 30
    await start_bot(request_timeout=0.3, retry_timeouts=True)
    relay.queue("slow", "ok")
    await wait_result(discord_fake, await imagine(discord_fake, prompt="x"))
    assert len(relay.generate_calls()) == 2


def generations(front: RetryingRelay) -> int:
    return sum(1 for path in front.received if path.endswith(":generateContent"))


@pytest.fixture
async def retrying(relay: FakeRelay) -> AsyncIterator[RetryingRelay]:
    front = RetryingRelay(relay.base_url, tries=3)
    await front.start()
    yield front
    await front.close()


async def test_a_relay_that_retries_by_itself_multiplies_a_bounded_number_of_calls(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, retrying: RetryingRelay
) -> None:
    await start_bot(api_base_url=retrying.base_url)
    relay.outage = "http_503"
    assert await private_error(discord_fake, await imagine(discord_fake, prompt="x")) == BUSY
    # MAX_ATTEMPTS (3) calls from the bot, each tried 3 times by the relay: 9 upstream, never more.
    assert generations(retrying) == 3 and len(relay.generate_calls()) == 9


async def test_an_owner_with_such_a_relay_bounds_the_bill_with_max_attempts(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, retrying: RetryingRelay
) -> None:
    await start_bot(api_base_url=retrying.base_url, max_attempts=1)
    relay.outage = "http_503"
    assert await private_error(discord_fake, await imagine(discord_fake, prompt="x")) == BUSY
    assert generations(retrying) == 1 and len(relay.generate_calls()) == 3
