"""The price list, the owner's prices, costs from reported usage, budgets' periods, amounts shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.jobs.access import Member
from bot.jobs.budgets import day_of, month_of, monthly_budget
from bot.jobs.model import Job, JobStatus
from bot.pricing import LIST_FILE, CostBasis, Prices, TokenUsage, load_list, money
from bot.providers import gemini, openai_images
from tests.unit.engine_kit import Kit, member, origin, request
from tests.unit.test_engine_lifecycle import RESULT


def test_every_list_entry_parses_and_names_its_source_and_date() -> None:
    raw = json.loads(LIST_FILE.read_text(encoding="utf-8"))
    listed = load_list()
    assert len(listed) == len(raw["models"]) > 0
    assert raw["currency"] == "USD"
    for entry in listed:
        assert entry.source.strip() and len(entry.source) > 20, entry.model
        datetime.strptime(entry.date, "%Y-%m-%d")
        assert entry.default in entry.picture, entry.model
        assert all(0 < price < 5 for price in entry.picture.values()), entry.model
        assert set(entry.tokens) <= {"input_text", "input_image", "output"}, entry.model
    assert len({entry.model for entry in listed}) == len(listed)


def test_list_prices_by_size_quality_and_family_name() -> None:
    prices = Prices({}, "USD")
    assert prices.estimate("gemini-2.5-flash-image", 2, None) == pytest.approx(0.078)
    # A relay's longer alias takes its family's price; the longest family name wins.
    assert prices.estimate("gemini-2.5-flash-image-preview", 1, None) == pytest.approx(0.039)
    assert prices.estimate("gpt-image-1-mini", 1, None) == pytest.approx(0.011)
    assert prices.estimate("gpt-image-1", 1, None) == pytest.approx(0.042)
    assert prices.estimate("gpt-image-1", 1, "4K") == pytest.approx(0.167), "a bigger size asks for high"
    assert prices.estimate("gemini-3-pro-image-preview", 1, "4K") == pytest.approx(0.24)
    assert prices.estimate("midjourney", 1, None) is None
    assert prices.unknown == {"midjourney"}


def test_the_owners_prices_win_per_model_and_per_variant() -> None:
    prices = Prices({"gpt-image-1:high": 0.3, "gpt-image-1": 0.02, "midjourney": 0.05}, "USD")
    assert prices.estimate("gpt-image-1", 1, "2K") == pytest.approx(0.3)
    assert prices.estimate("gpt-image-1", 2, None) == pytest.approx(0.04)
    assert prices.estimate("midjourney", 1, None) == pytest.approx(0.05)
    cost = prices.cost("gpt-image-1", 1, None, [TokenUsage(12, 0, 99999)])
    assert cost is not None and cost.basis is CostBasis.OWNER and cost.amount == pytest.approx(0.02)


def test_reported_usage_is_priced_at_token_rates_else_the_list_price() -> None:
    prices = Prices({}, "USD")
    cost = prices.cost("gemini-2.5-flash-image", 1, None, [TokenUsage(output=1290)])
    assert cost is not None and cost.basis is CostBasis.USAGE and cost.amount == pytest.approx(0.0387)
    cost = prices.cost("gemini-2.5-flash-image", 2, None, [TokenUsage(output=1290), None])
    assert cost is not None and cost.basis is CostBasis.LIST and cost.amount == pytest.approx(0.078)
    # No token rates for this one: its list price per picture.
    cost = prices.cost("gemini-3-pro-image-preview", 1, "2K", [TokenUsage(output=1120)])
    assert cost is not None and cost.basis is CostBasis.LIST and cost.amount == pytest.approx(0.134)


def test_another_currency_uses_only_the_owners_prices() -> None:
    prices = Prices({"gemini-2.5-flash-image": 0.28}, "CNY")
    assert prices.estimate("gemini-2.5-flash-image", 1, None) == pytest.approx(0.28)
    assert prices.estimate("gpt-image-1", 1, None) is None, "the USD list is not shown as CNY"


def test_usage_as_the_apis_report_it() -> None:
    answer = {
        "usageMetadata": {
            "promptTokenCount": 600,
            "candidatesTokenCount": 1290,
            "thoughtsTokenCount": 100,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 40},
                {"modality": "IMAGE", "tokenCount": 560},
            ],
        }
    }
    assert gemini.token_usage(answer) == TokenUsage(40, 560, 1390)
    assert gemini.token_usage({"candidates": []}) is None
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
        "output_tokens": 4160,
    }
    assert openai_images.token_usage({"usage": usage}) == TokenUsage(10, 40, 4160)
    assert openai_images.token_usage({"data": {"usage": usage, "data": []}}) == TokenUsage(10, 40, 4160)
    assert openai_images.token_usage({"data": []}) is None


def test_periods_are_utc_days_and_calendar_months() -> None:
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC).timestamp()
    assert day_of(moment).end == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    month = month_of(moment)
    assert (month.start, month.end) == (
        datetime(2026, 12, 1, tzinfo=UTC).timestamp(),
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    feb = month_of(datetime(2028, 2, 29, 12, tzinfo=UTC).timestamp())
    assert feb.end == datetime(2028, 3, 1, tzinfo=UTC).timestamp()


def test_the_largest_role_budget_replaces_the_monthly_one() -> None:
    settings = Settings(
        discord_token="t", api_key="k", user_monthly_budget=5.0, role_budgets={1: 20.0, 2: 50.0, 3: 1.0}
    )
    assert monthly_budget(settings, Member(9, 1, (1,), frozenset({1, 3}))) == 20.0
    assert monthly_budget(settings, Member(9, 1, (1,), frozenset({2, 1}))) == 50.0
    assert monthly_budget(settings, Member(9, 1, (1,), frozenset({3}))) == 1.0
    assert monthly_budget(settings, Member(9, 1, (1,))) == 5.0


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(0, "0.00"), (1.5, "1.50"), (0.1, "0.10"), (0.116, "0.12"), (0.078, "0.078"), (0.0387, "0.0387")],
)
def test_amounts_are_shown_as_owners_read_them(amount: float, shown: str) -> None:
    assert money(amount) == shown


async def test_spend_counts_done_jobs_at_cost_open_ones_at_estimate_and_nothing_else(kit: Kit) -> None:
    now = kit.clock.now
    day, month = day_of(now), month_of(now)

    async def journal(
        user_id: int, guild_id: int | None, estimate: float, ending: str, age: float = 0
    ) -> None:
        who = member(user_id, guild_id=guild_id)
        job = Job(0, request("x"), origin(who), 1, created_at=now - age, estimate=estimate)
        await kit.store.add(job)
        if ending == "done":
            await kit.store.set_result(job, RESULT, now, cost=estimate * 2)  # cost more than estimated
        elif ending in ("failed", "cancelled"):
            await kit.store.update(job, status=JobStatus(ending))
        elif ending == "running":
            await kit.store.update(job, status=JobStatus.RUNNING)

    await journal(1, 10, 0.1, "done")  # counts 0.2, its cost
    await journal(1, 10, 0.3, "running")  # counts its estimate
    await journal(1, 10, 0.4, "queued")
    await journal(1, 10, 5.0, "failed")  # nothing
    await journal(1, 10, 5.0, "cancelled")
    await journal(2, 10, 1.0, "done")  # the server's, not member 1's
    await journal(1, 10, 0.5, "done", age=now - month.start + 1)  # last month: nothing
    # Earlier this month but not today (the fake clock is at noon on a day after the 1st).
    await journal(1, 10, 0.05, "done", age=now - day.start + 60)

    spent_day, spent_month, spent_guild = await kit.store.spend_of(1, 10, day.start, month.start)
    assert spent_day == pytest.approx(0.2 + 0.3 + 0.4)
    assert spent_month == pytest.approx(0.2 + 0.3 + 0.4 + 0.1)
    assert spent_guild == pytest.approx(0.2 + 0.3 + 0.4 + 0.1 + 2.0)
    assert await kit.store.spent_since(month.start) == pytest.approx(spent_guild)
    assert await kit.store.spent_since(day.start, user_id=1) == pytest.approx(spent_day)
    assert await kit.store.spend_by_model(10, month.start) == [("gem", pytest.approx(spent_guild))]
    assert await kit.store.top_spenders(10, month.start) == [(2, 2.0), (1, pytest.approx(1.0))]
