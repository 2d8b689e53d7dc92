"""What pictures cost, budgets and what members see of them, through the fake Discord and relay."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from bot.jobs.engine import JobEngine
from bot.routing import parse_models
from tests.e2e.helpers import EPHEMERAL, private_error, wait_result
from tests.e2e.test_jobs import ALICE, BOB, CAROL, imagine, until, wait_progress
from tests.fakes.discord import FakeDiscord, SentInteraction
from tests.fakes.relay import FakeRelay

ROLE = "200000000000000001"
MODELS = tuple(parse_models("gemini-2.5-flash-image,gpt-image-1,midjourney,house=gemini"))


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(JobEngine, "progress_every", 0.05)


async def usage_of(discord_fake: FakeDiscord, who: dict[str, Any], **kw: Any) -> dict[str, str]:
    sent = await discord_fake.send_interaction(discord_fake.slash("usage", member=who, **kw))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    assert call.payload["data"]["flags"] & EPHEMERAL
    (embed,) = call.payload["data"]["embeds"]
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def done(discord_fake: FakeDiscord, sent: SentInteraction) -> None:
    await wait_result(discord_fake, sent)


def generations(relay: FakeRelay) -> int:
    return len(relay.generate_calls()) + len(relay.calls_to("/v1/images/"))


async def test_a_daily_budget_refuses_before_any_call_with_what_is_left(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_budget=0.05)
    await done(discord_fake, await imagine(discord_fake, "one", ALICE))
    assert generations(relay) == 1
    error = await private_error(discord_fake, await imagine(discord_fake, "two", ALICE))
    # The first cost its 1290 reported tokens at $30 per million; the second is estimated at 0.039.
    assert re.fullmatch(
        r"That would pass your budget for today: 0\.0113 USD left, renewed <t:\d+:R>\.", error
    ), error
    assert generations(relay) == 1, "refused before any call"
    # Another member has their own budget.
    await done(discord_fake, await imagine(discord_fake, "three", BOB))
    fields = await usage_of(discord_fake, ALICE)
    assert (
        fields["Spending"].splitlines()[0].startswith("Today: 0.0387 of 0.05 USD · 0.0113 left, renewed <t:")
    )


async def test_the_owners_prices_win_and_the_progress_shows_the_estimate(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(models=MODELS, prices={"gpt-image-1": 0.5, "midjourney": 0.05})
    sent = await imagine(discord_fake, "a fox", model="gpt-image-1", count=2)
    shown = await wait_progress(discord_fake, sent, "🎨")
    assert shown.payload["content"].endswith(" · ≈ 1.00 USD")
    relay.hold.set()
    await done(discord_fake, sent)
    fields = await usage_of(discord_fake, ALICE)
    assert fields["Spending"].splitlines() == ["Today: 1.00 USD", "This month: 1.00 USD"]
    assert (await status_fields(discord_fake))["Spent this month"] == "1.00 USD"


async def test_gpt_image_usage_is_priced_at_the_lists_token_rates(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(models=MODELS)
    await done(discord_fake, await imagine(discord_fake, "a fox", model="gpt-image-1"))
    # 12 text tokens at $5 and 1056 image tokens at $40 per million.
    fields = await usage_of(discord_fake, ALICE)
    assert fields["Spending"].splitlines()[0] == "Today: 0.0423 USD"


async def test_a_model_without_a_price_costs_nothing_and_is_named_in_status(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog
) -> None:
    caplog.set_level(logging.INFO)
    await start_bot(models=MODELS, user_daily_budget=0.01)
    # "house" is a relay alias with no list price: the budget cannot stop it.
    await done(discord_fake, await imagine(discord_fake, "one", model="house"))
    await done(discord_fake, await imagine(discord_fake, "two", model="house"))
    assert caplog.text.count("No price known for house") == 1
    sent = await discord_fake.send_interaction(discord_fake.slash("status"))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["No price known"] == "house: its pictures count as costing nothing (set PRICES)"


async def test_a_failed_job_costs_nothing(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot(user_daily_budget=0.05)
    relay.queue("http_400")
    await private_error(discord_fake, await imagine(discord_fake, "one"))
    fields = await usage_of(discord_fake, ALICE)
    assert fields["Spending"].splitlines()[0].startswith("Today: 0.00 of 0.05 USD · 0.05 left")


async def test_a_role_budget_replaces_the_monthly_budget_and_the_server_budget_holds_for_all(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(
        user_monthly_budget=0.05,
        role_budgets={int(ROLE): 0.2},
        guild_monthly_budget=0.1,
        admin_users=frozenset({int(CAROL["id"])}),
    )
    await done(discord_fake, await imagine(discord_fake, "one", ALICE, roles=[ROLE]))
    await done(discord_fake, await imagine(discord_fake, "two", ALICE, roles=[ROLE]))
    error = await private_error(discord_fake, await imagine(discord_fake, "x", BOB))
    assert error.startswith("That would pass this server's budget for this month: 0.0226 USD left"), error
    # Admins are never refused, and what they spend counts in the server's total.
    await done(discord_fake, await imagine(discord_fake, "three", CAROL))
    fields = await usage_of(discord_fake, CAROL)
    assert fields["This server this month"].splitlines()[0] == "Spent: 0.12 of 0.10 USD"


async def test_a_monthly_budget_counts_jobs_still_running(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(user_monthly_budget=0.06)
    first = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)
    error = await private_error(discord_fake, await imagine(discord_fake, "two"))
    assert error.startswith("That would pass your budget for this month: 0.021 USD left"), error
    relay.hold.set()
    await done(discord_fake, first)


OWNER_CHANNEL = 300000000000000001


def owner_posts(discord_fake: FakeDiscord) -> list[str]:
    return [
        c.payload["content"]
        for c in discord_fake.calls
        if c.method == "POST" and c.path.endswith(f"/channels/{OWNER_CHANNEL}/messages")
    ]


async def status_fields(discord_fake: FakeDiscord) -> dict[str, str]:
    sent = await discord_fake.send_interaction(discord_fake.slash("status"))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_a_low_new_api_balance_is_told_once_in_the_owner_channel(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    # 1,000,000 quota units at new-api's default 500,000 a dollar.
    relay.token_usage = {"total_available": 1_000_000, "total_used": 4_000_000, "unlimited_quota": False}
    bot = await start_bot(low_balance=5.0, owner_log_channel=OWNER_CHANNEL)
    post = await discord_fake.wait_for(lambda c: c.path.endswith(f"/channels/{OWNER_CHANNEL}/messages"))
    assert post.payload["content"] == (
        "⚠️ The relay main has 2.00 USD left, under LOW_BALANCE (5.00 USD). "
        "Top it up before members start getting errors."
    )
    assert post.payload["allowed_mentions"] == {"parse": []}
    (token_call,) = [c for c in relay.balance_calls if c.path == "/api/usage/token/"]
    assert token_call.headers["Authorization"].startswith("Bearer ")
    assert (await status_fields(discord_fake))["Relay balance"] == "main: 2.00 USD left"
    await bot.balances.check()
    assert len(owner_posts(discord_fake)) == 1, "one warning, not one per check"
    assert relay.calls_to("/v1/images/") == [] and relay.generate_calls() == [], "no command, no call"


async def test_the_billing_pair_gives_the_balance_where_the_token_endpoint_is_missing(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.billing = (10.0, 250.0)  # 10 USD granted, 2.50 USD used
    bot = await start_bot(quota_per_unit=500000)
    (balance,) = await bot.balances.check()
    assert balance.remaining == pytest.approx(7.5)
    assert (await status_fields(discord_fake))["Relay balance"] == "main: 7.50 USD left"


@pytest.mark.parametrize("answer", ["error", None], ids=["200 with an error body", "no endpoint"])
async def test_a_relay_that_does_not_say_has_an_unknown_balance(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, answer: str | None
) -> None:
    relay.token_usage = answer
    relay.billing = answer
    bot = await start_bot(low_balance=5.0, owner_log_channel=OWNER_CHANNEL)
    (balance,) = await bot.balances.check()
    assert balance.remaining is None and not balance.unlimited
    assert "Relay balance" not in await status_fields(discord_fake)
    assert owner_posts(discord_fake) == []


async def test_a_budget_reached_and_a_refused_key_are_told_to_the_owner_once_each(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_budget=0.05, owner_log_channel=OWNER_CHANNEL)
    await done(discord_fake, await imagine(discord_fake, "one"))
    for prompt in ("two", "three"):
        await private_error(discord_fake, await imagine(discord_fake, prompt))
    relay.queue("http_401", "http_401")
    for prompt in ("four", "five"):
        await private_error(discord_fake, await imagine(discord_fake, prompt, BOB))
    await until(lambda: len(owner_posts(discord_fake)) == 2)
    budget, key = owner_posts(discord_fake)
    assert re.fullmatch(
        rf"💸 The daily budget of <@{ALICE['id']}> is reached: a job that would pass it was refused, "
        r"and others like it will be until it renews <t:\d+:R>\.",
        budget,
    ), budget
    assert key.startswith("🔑 The image service refused the bot's API key (on gemini-2.5-flash-image).")
