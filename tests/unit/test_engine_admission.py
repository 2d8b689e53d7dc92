"""Who the engine lets in: allowlists, room in the queue, limits, cooldown, and /usage."""

from __future__ import annotations

import asyncio
import math

import pytest

from bot.errors import Cooldown, DailyLimitReached, NotAllowed, QueueFull, Restarting, UserBusy
from bot.jobs.access import Member
from bot.jobs.admission import Usage
from bot.jobs.model import Job
from bot.jobs.state import Phase
from bot.providers.base import Action
from bot.request import FollowUp, Kind, Note
from tests.unit.engine_kit import CHANNEL, DAY, GUILD, NOON, Kit, member, origin, request, until

OTHER_GUILD = GUILD + 1
THREAD = CHANNEL + 50
ROLE = 700_000_000_000_000_001
ADMIN = 7


async def test_accept_plans_the_request_and_journals_it_before_the_member_is_told(kit: Kit) -> None:
    engine = kit.engine()
    kit.service.plan_notes = (Note("note.size_ignored", {"size": "4K"}),)
    who = member(1)
    job = await engine.accept(request("a cat", model=""), origin(who), who)
    assert (job.model, job.units, job.created_at) == ("gem", 1, kit.clock.now)
    assert job.notes == kit.service.plan_notes
    assert await kit.count_jobs() == 1, "durable before the defer"
    await engine.submit(job, message_id=777)
    assert job.id > 0
    row = await kit.row(job.id)
    assert (row["model"], row["units"], row["user_id"], row["token"]) == ("gem", 1, 1, "interaction-token")
    assert engine.job(job.id) is job
    stored = await kit.store.get(job.id)
    assert stored is not None and stored.notes == kit.service.plan_notes and stored.origin.token
    assert stored.message_id == 777


async def test_units_count_pictures_and_an_action_counts_one(kit: Kit) -> None:
    engine = kit.engine()
    who = member(1)
    three = await engine.accept(request("three", count=3), origin(who), who)
    follow_up = FollowUp("task-1", "mj::upsample::1", "Upscale 1")
    action = await engine.accept(
        request("", model="mj", kind=Kind.ACTION, count=4, follow_up=follow_up), origin(who), who
    )
    assert (three.units, action.units) == (3, 1)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (member(1, guild_id=GUILD), True),
        (member(1, guild_id=OTHER_GUILD), False),
        (member(1, guild_id=None), False),
        (member(ADMIN, guild_id=OTHER_GUILD), False),  # admins too stay in the owner's servers
    ],
)
async def test_the_server_allowlist(kit: Kit, who: Member, allowed: bool) -> None:
    engine = kit.engine(allowed_guilds=frozenset({GUILD}), admin_users=frozenset({ADMIN}))
    if allowed:
        await engine.accept(request(), origin(who), who)
    else:
        with pytest.raises(NotAllowed):
            await engine.accept(request(), origin(who), who)


async def test_the_channel_allowlist_counts_a_threads_parent(kit: Kit) -> None:
    engine = kit.engine(allowed_channels=frozenset({CHANNEL}))
    in_thread = member(1, channels=(THREAD, CHANNEL))
    elsewhere = member(2, channels=(THREAD + 1, CHANNEL + 1))
    await engine.accept(request(), origin(in_thread), in_thread)
    with pytest.raises(NotAllowed):
        await engine.accept(request(), origin(elsewhere), elsewhere)


async def test_the_role_allowlist(kit: Kit) -> None:
    engine = kit.engine(allowed_roles=frozenset({ROLE}))
    with_role = member(1, roles=frozenset({ROLE, ROLE + 1}))
    without = member(2, roles=frozenset({ROLE + 1}))
    await engine.accept(request(), origin(with_role), with_role)
    with pytest.raises(NotAllowed):
        await engine.accept(request(), origin(without), without)


async def test_admins_pass_the_channel_and_role_lists_in_an_allowed_server(kit: Kit) -> None:
    engine = kit.engine(
        allowed_guilds=frozenset({GUILD}),
        allowed_channels=frozenset({CHANNEL}),
        allowed_roles=frozenset({ROLE}),
        admin_users=frozenset({ADMIN}),
        admin_roles=frozenset({ROLE + 9}),
    )
    admin = member(ADMIN, channels=(CHANNEL + 1,))
    by_role = member(8, channels=(CHANNEL + 1,), roles=frozenset({ROLE + 9}))
    plain = member(9, channels=(CHANNEL + 1,))
    await engine.accept(request(), origin(admin), admin)
    await engine.accept(request(), origin(by_role), by_role)
    with pytest.raises(NotAllowed):
        await engine.accept(request(), origin(plain), plain)


async def test_a_member_with_too_many_open_jobs_is_busy_until_one_ends(kit: Kit) -> None:
    engine = kit.engine(max_jobs_per_user=2, max_concurrent_jobs=4)
    who = member(1)
    first = await kit.submit(engine, "one", who)
    await kit.submit(engine, "two", who)
    with pytest.raises(UserBusy) as raised:
        await engine.accept(request("three"), origin(who), who)
    assert raised.value.params == {"limit": 2}
    other = member(2)
    await engine.accept(request("theirs"), origin(other), other)  # the limit is per member
    (await kit.service.started("one")).succeed()
    await kit.sink.wait_for("deliver", first.id)
    await until(lambda: engine.job(first.id) is None, "the first job to be let go")
    await engine.accept(request("three"), origin(who), who)


async def test_accepted_jobs_are_journaled_at_once_and_abandon_frees_one(kit: Kit) -> None:
    engine = kit.engine(max_jobs_per_user=2)
    who = member(1)
    await engine.accept(request("one"), origin(who), who)
    second = await engine.accept(request("two"), origin(who), who)
    assert await kit.status_of(second.id) == "queued", "durable before the member is told"
    with pytest.raises(UserBusy):
        await engine.accept(request("three"), origin(who), who)
    await engine.abandon(second)
    await engine.abandon(second)  # twice is harmless
    assert await kit.status_of(second.id) == "failed", "an abandoned job counts for no limit"
    await engine.accept(request("three"), origin(who), who)


async def test_a_burst_of_accepts_is_journaled_in_one_commit(
    sqlite_kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = sqlite_kit  # SQLite's own batching; PostgreSQL commits concurrent inserts together itself
    engine = kit.engine(max_queue_length=100, max_jobs_per_user=100)
    commits = 0
    real = kit.db.conn.commit

    async def counted() -> None:
        nonlocal commits
        commits += 1
        await real()

    monkeypatch.setattr(kit.db.conn, "commit", counted)
    jobs = await asyncio.gather(
        *(engine.accept(request(f"p{n}"), origin(member(n)), member(n)) for n in range(20))
    )
    assert sorted(j.id for j in jobs) == list(range(1, 21))
    assert commits == 1


async def test_admins_are_not_held_to_the_per_member_limit(kit: Kit) -> None:
    engine = kit.engine(max_jobs_per_user=1, admin_users=frozenset({ADMIN}))
    admin = member(ADMIN)
    for prompt in ("one", "two", "three"):
        await engine.accept(request(prompt), origin(admin), admin)


async def test_a_full_queue_refuses_everyone_admins_included(kit: Kit) -> None:
    engine = kit.engine(
        max_concurrent_jobs=1, max_queue_length=2, max_jobs_per_user=10, admin_users=frozenset({ADMIN})
    )
    running = await kit.submit(engine, "running", member(1))
    waiting = await kit.submit(engine, "waiting", member(2))
    assert kit.active(engine, running.id).phase is Phase.RUNNING
    assert kit.active(engine, waiting.id).phase is Phase.WAITING
    held = member(3)
    await engine.accept(request("pending"), origin(held), held)  # accepted, not yet journaled
    for who in (member(4), member(ADMIN)):
        with pytest.raises(QueueFull):
            await engine.accept(request("one too many"), origin(who), who)


async def test_a_draining_engine_answers_restarting(kit: Kit) -> None:
    engine = kit.engine()
    await engine.drain()
    assert not engine.accepting
    who = member(1)
    with pytest.raises(Restarting):
        await engine.accept(request(), origin(who), who)


async def test_the_cooldown_counts_from_the_last_request_pending_or_journaled(kit: Kit) -> None:
    engine = kit.engine(user_cooldown=60.0, max_jobs_per_user=10, admin_users=frozenset({ADMIN}))
    who = member(1)
    first = kit.clock.now
    await kit.submit(engine, "first", who)
    kit.clock.advance(45)
    with pytest.raises(Cooldown) as raised:
        await engine.accept(request("again"), origin(who), who)
    # When to try again, as a moment Discord shows in the member's own language and time zone.
    assert raised.value.params == {"retry_at": math.ceil(first + 60)}
    kit.clock.advance(15)
    await engine.accept(request("again"), origin(who), who)  # pending now, and counted
    with pytest.raises(Cooldown) as raised:
        await engine.accept(request("and again"), origin(who), who)
    assert raised.value.params == {"retry_at": math.ceil(first + 120)}
    admin = member(ADMIN)
    await engine.accept(request("one"), origin(admin), admin)
    await engine.accept(request("two"), origin(admin), admin)


async def test_a_cancelled_job_gives_the_cooldown_back(kit: Kit) -> None:
    engine = kit.engine(user_cooldown=600.0)
    who = member(1)
    job = await kit.submit(engine, "first", who)
    await kit.service.started("first")
    engine.cancel(job.id, who)
    await kit.sink.wait_for("cancelled", job.id)
    await until(lambda: engine.job(job.id) is None, "the cancelled job to be let go")
    await engine.accept(request("second"), origin(who), who)


async def test_the_daily_limit_counts_pending_and_journaled_pictures(kit: Kit) -> None:
    engine = kit.engine(user_daily_limit=3, max_jobs_per_user=10)
    who = member(1)
    await kit.submit(engine, "two", who, count=2)
    with pytest.raises(DailyLimitReached) as raised:
        await engine.accept(request("two more", count=2), origin(who), who)
    assert raised.value.params == {"used": 2, "limit": 3, "reset_at": int(NOON + 12 * 3600)}
    assert not raised.value.guild and raised.value.message_key() == "error.user_daily_limit"
    await engine.accept(request("one more"), origin(who), who)  # pending: 3 of 3
    with pytest.raises(DailyLimitReached) as raised:
        await engine.accept(request("yet one more"), origin(who), who)
    assert raised.value.params["used"] == 3
    other = member(2)
    await engine.accept(request("theirs", count=3), origin(other), other)


async def test_the_daily_limit_resets_at_midnight_and_failures_give_pictures_back(kit: Kit) -> None:
    engine = kit.engine(user_daily_limit=2, max_jobs_per_user=10)
    who = member(1)
    kit.clock.advance(-DAY)  # yesterday's pictures do not count today
    await kit.submit(engine, "yesterday", who, count=2)
    kit.clock.advance(DAY - 60)  # 11:59 today
    failing = await kit.submit(engine, "fails", who, count=2)
    with pytest.raises(DailyLimitReached) as raised:
        await engine.accept(request("one"), origin(who), who)
    assert raised.value.params["reset_at"] == int(NOON + 12 * 3600)
    (await kit.service.started("fails")).fail(RuntimeError("boom"))
    await kit.sink.wait_for("fail", failing.id)
    await engine.accept(request("two", count=2), origin(who), who)


async def test_the_server_limit_counts_every_members_pictures_there(kit: Kit) -> None:
    engine = kit.engine(guild_daily_limit=3, max_jobs_per_user=10)
    await kit.submit(engine, "first", member(1), count=2)
    neighbour = member(2)
    await engine.accept(request("pending"), origin(neighbour), neighbour)
    with pytest.raises(DailyLimitReached) as raised:
        await engine.accept(request("one too many"), origin(neighbour), neighbour)
    assert raised.value.guild and raised.value.message_key() == "error.guild_daily_limit"
    assert raised.value.params == {"used": 3, "limit": 3, "reset_at": int(NOON + 12 * 3600)}
    elsewhere = member(3, guild_id=OTHER_GUILD)
    in_dms = member(4, guild_id=None)
    await engine.accept(request("fine", count=3), origin(elsewhere), elsewhere)
    await engine.accept(request("fine", count=3), origin(in_dms), in_dms)


async def test_admins_are_spared_the_cooldown_and_daily_limits(kit: Kit) -> None:
    engine = kit.engine(
        user_cooldown=600.0, user_daily_limit=1, guild_daily_limit=1, admin_roles=frozenset({ROLE})
    )
    admin = member(ADMIN, roles=frozenset({ROLE}))
    await kit.submit(engine, "one", admin, count=2)
    await engine.accept(request("two", count=2), origin(admin), admin)


async def test_usage_reports_the_member_and_optionally_their_server(kit: Kit) -> None:
    engine = kit.engine(
        user_daily_limit=5,
        guild_daily_limit=20,
        user_cooldown=30.0,
        max_jobs_per_user=10,
        max_concurrent_jobs=1,
        admin_users=frozenset({ADMIN}),
    )
    one, two = member(1), member(2)
    await kit.submit(engine, "one's", one, count=2)
    kit.clock.advance(60)
    await kit.submit(engine, "two's", two, count=3)
    kit.clock.advance(60)
    cancelled = await kit.submit(engine, "two's cancelled", two, count=2)
    engine.cancel(cancelled.id, two)
    await kit.sink.wait_for("cancelled", cancelled.id)
    kit.clock.advance(-120)

    mine = await engine.usage(one, with_guild=False)
    assert mine == Usage(2, 5, int(NOON + 12 * 3600), False, 30.0)
    assert mine.left == 3
    with_guild = await engine.usage(one, with_guild=True)
    assert (with_guild.used, with_guild.guild_used, with_guild.guild_limit) == (2, 5, 20)
    assert with_guild.top == ((2, 3), (1, 2))
    in_dms = await engine.usage(member(1, guild_id=None), with_guild=True)
    assert in_dms.guild_used is None
    admin = await engine.usage(member(ADMIN), with_guild=False)
    assert admin.exempt and admin.used == 0


def test_usage_left() -> None:
    assert Usage(7, 5, 0, False, 0.0).left == 0
    assert Usage(7, 0, 0, False, 0.0).left is None


async def test_bursts_that_overlap_each_get_their_own_rows(kit: Kit) -> None:
    engine = kit.engine(max_queue_length=100, max_jobs_per_user=100)
    actions = kit.actions

    async def burst(tag: str) -> list[Job]:
        return list(
            await asyncio.gather(
                *(engine.accept(request(f"{tag}{n}"), origin(member(n)), member(n)) for n in range(15))
            )
        )

    first, second, _ = await asyncio.gather(
        burst("a"), burst("b"), actions.add("mj", "task", (Action("U1", "", "MJ::JOB::upsample::1"),))
    )
    jobs = first + second
    assert len({j.id for j in jobs}) == 30
    for job in jobs:
        stored = await kit.store.get(job.id)
        assert stored is not None and stored.request.prompt == job.request.prompt
