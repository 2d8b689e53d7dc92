"""Money budgets beside the picture limits: per member per UTC day and month, per server per month,
and per role (a member's largest role budget replaces USER_MONTHLY_BUDGET). A job is refused when
its estimate would pass one; a job that cost more than estimated is counted at what it cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import Settings
from bot.errors import BudgetReached
from bot.jobs.access import Member
from bot.jobs.store import JobStore
from bot.pricing import money


@dataclass(frozen=True)
class Period:
    start: float
    end: float


def day_of(now: float) -> Period:
    start = now - now % 86400
    return Period(start, start + 86400)


def month_of(now: float) -> Period:
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Period(start.timestamp(), end.timestamp())


def monthly_budget(settings: Settings, member: Member) -> float:
    """The member's monthly budget: their largest role budget, else USER_MONTHLY_BUDGET (0: none)."""
    roles = [amount for role, amount in settings.role_budgets.items() if role in member.role_ids]
    return max(roles) if roles else settings.user_monthly_budget


@dataclass(frozen=True)
class Spend:
    """What a member and their server spent, and what they may: for /usage and the checks."""

    day: float
    month: float
    day_budget: float
    month_budget: float
    guild_month: float | None = None
    guild_budget: float = 0.0
    day_ends: float = 0.0
    month_ends: float = 0.0


class Budgets:
    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings = settings
        self.store = store

    def active(self, member: Member) -> bool:
        settings = self.settings
        return bool(
            settings.user_daily_budget
            or monthly_budget(settings, member)
            or (settings.guild_monthly_budget and member.guild_id is not None)
        )

    async def spend(
        self, member: Member, now: float, pending: float = 0.0, guild_pending: float = 0.0
    ) -> Spend:
        """`pending`, `guild_pending`: estimates of the member's and the server's jobs accepted
        but not yet in the journal."""
        settings = self.settings
        day, month = day_of(now), month_of(now)
        spent_day, spent_month, spent_guild = await self.store.spend_of(
            member.user_id, member.guild_id, day.start, month.start
        )
        guild_month = None if member.guild_id is None else spent_guild + guild_pending
        return Spend(
            day=spent_day + pending,
            month=spent_month + pending,
            day_budget=settings.user_daily_budget,
            month_budget=monthly_budget(settings, member),
            guild_month=guild_month,
            guild_budget=settings.guild_monthly_budget,
            day_ends=day.end,
            month_ends=month.end,
        )

    async def check(
        self,
        member: Member,
        estimate: float,
        now: float,
        pending: float = 0.0,
        guild_pending: float = 0.0,
    ) -> None:
        """Raise BudgetReached when `estimate` would pass one of the member's budgets."""
        if not estimate or not self.active(member):
            return
        spend = await self.spend(member, now, pending, guild_pending)
        day, month = day_of(now), month_of(now)
        checks = (
            ("user_day", spend.day, spend.day_budget, day.end),
            ("user_month", spend.month, spend.month_budget, month.end),
            ("guild_month", spend.guild_month or 0.0, spend.guild_budget, month.end),
        )
        for scope, spent, budget, renews in checks:
            if scope == "guild_month" and member.guild_id is None:
                continue
            if budget and spent + estimate > budget:
                raise BudgetReached(
                    f"{scope}: {spent:.4f} + {estimate:.4f} > {budget}",
                    scope=scope,
                    left=money(max(0.0, budget - spent)),
                    currency=self.settings.currency,
                    reset_at=int(renews),
                )
