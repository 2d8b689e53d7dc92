"""Who may start a job now: the allowlists, room in the queue, and each member's and server's limits.

Fast and without writes: it runs before the interaction is deferred, so refusals stay private.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bot.errors import (
    AlreadyOnIt,
    Cooldown,
    DailyLimitReached,
    NotAllowed,
    QueueFull,
    Restarting,
    UserBusy,
)
from bot.jobs.access import Member, is_allowed, is_exempt
from bot.jobs.budgets import Budgets, Spend, month_of
from bot.jobs.state import Board, Phase
from bot.request import GenerateRequest

DAY = 86400.0


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int
    resets_at: int  # epoch seconds: the next UTC midnight
    exempt: bool
    cooldown: float
    guild_used: int | None = None
    guild_limit: int = 0
    top: tuple[tuple[int, int], ...] = ()
    spend: Spend | None = None  # None: no budget applies and no price is known
    currency: str = "USD"
    # The server's spend this month by model, and its top spenders (for managers).
    guild_models: tuple[tuple[str, float], ...] = ()
    top_spenders: tuple[tuple[int, float], ...] = ()

    @property
    def left(self) -> int | None:
        return None if not self.limit else max(0, self.limit - self.used)


class Admission:
    def __init__(self, board: Board) -> None:
        self.board = board
        self.budgets = Budgets(board.settings, board.store)

    def check_access(self, member: Member) -> bool:
        """Raise NotAllowed outside the allowlists; return whether the limits spare this member."""
        settings = self.board.settings
        if not is_allowed(settings, member):
            raise NotAllowed()  # buttons and modals too, which the command tree's check never sees
        return is_exempt(settings, member)

    def check_twice(self, member: Member, request: GenerateRequest) -> None:
        """A follow-up pressed again by the same member while the first press runs is one job."""
        if request.parent is None:
            return
        for active in self.board.open_jobs():
            earlier = active.job
            if (
                earlier.origin.user_id == member.user_id
                and earlier.request.parent == request.parent
                and earlier.request.prompt == request.prompt
            ):
                raise AlreadyOnIt(f"job {earlier.id}")

    def check_room(self, member: Member, exempt: bool) -> None:
        board, settings = self.board, self.board.settings
        if not board.accepting:
            raise Restarting()
        open_jobs = board.open_jobs()
        mine = sum(1 for a in open_jobs if a.job.origin.user_id == member.user_id)
        if not exempt and mine >= settings.max_jobs_per_user:
            raise UserBusy(limit=settings.max_jobs_per_user)
        waiting = sum(1 for a in open_jobs if a.phase in (Phase.PREPARING, Phase.WAITING))
        # A gateway's dispatched jobs run in workers, possibly more of them than its own slots.
        free_slots = max(0, settings.max_concurrent_jobs - board.running)
        if waiting - free_slots >= settings.max_queue_length:
            raise QueueFull()

    async def check_limits(self, member: Member, units: int, estimate: float | None = None) -> None:
        board, settings = self.board, self.board.settings
        now = board.now()
        pending = [a.job for a in board.pending.values()]
        if settings.user_cooldown:
            times = [j.created_at for j in pending if j.origin.user_id == member.user_id]
            last = await board.store.last_request(member.user_id)
            last = max([t for t in (last, *times) if t is not None], default=None)
            if last is not None and now - last < settings.user_cooldown:
                # A moment, not a count: Discord shows it in each member's own language and zone.
                raise Cooldown(retry_at=math.ceil(last + settings.user_cooldown))
        day_start = now - now % DAY
        reset_at = int(day_start + DAY)
        if settings.user_daily_limit:
            used = await board.store.units_since(day_start, user_id=member.user_id)
            used += sum(j.units for j in pending if j.origin.user_id == member.user_id)
            if used + units > settings.user_daily_limit:
                raise DailyLimitReached(used=used, limit=settings.user_daily_limit, reset_at=reset_at)
        if settings.guild_daily_limit and member.guild_id is not None:
            used = await board.store.units_since(day_start, guild_id=member.guild_id)
            used += sum(j.units for j in pending if j.origin.guild_id == member.guild_id)
            if used + units > settings.guild_daily_limit:
                raise DailyLimitReached(
                    used=used, limit=settings.guild_daily_limit, reset_at=reset_at, guild=True
                )
        if estimate:
            await self.budgets.check(
                member,
                estimate,
                now,
                pending=sum(j.estimate or 0.0 for j in pending if j.origin.user_id == member.user_id),
                guild_pending=sum(
                    j.estimate or 0.0
                    for j in pending
                    if member.guild_id is not None and j.origin.guild_id == member.guild_id
                ),
            )

    async def usage(self, member: Member, *, with_guild: bool) -> Usage:
        board, settings = self.board, self.board.settings
        now = board.now()
        day_start = now - now % DAY
        used = await board.store.units_since(day_start, user_id=member.user_id)
        spend: Spend | None = await self.budgets.spend(member, now)
        if not self.budgets.active(member) and not spend.month and not spend.guild_month:
            spend = None  # no money to speak of: no budget, and nothing priced was made this month
        usage = Usage(
            used,
            settings.user_daily_limit,
            int(day_start + DAY),
            is_exempt(settings, member),
            settings.user_cooldown,
            spend=spend,
            currency=settings.currency,
        )
        if not with_guild or member.guild_id is None:
            return usage
        month = month_of(now)
        return replace(
            usage,
            guild_used=await board.store.units_since(day_start, guild_id=member.guild_id),
            guild_limit=settings.guild_daily_limit,
            top=tuple(await board.store.top_users(member.guild_id, day_start)),
            guild_models=tuple(await board.store.spend_by_model(member.guild_id, month.start)),
            top_spenders=tuple(await board.store.top_spenders(member.guild_id, month.start)),
        )
