"""The store contract: what the engine relies on from `JobStore` and `ActionStore`, one suite run
against the SQLite journal and against PostgreSQL (a real server, see tests/servers.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.jobs.model import Job, JobStatus, Origin
from bot.jobs.store import StoredResult
from bot.providers.base import Action
from bot.request import Kind, Note, Parent, SourceImage
from bot.storage import Database
from bot.stores import Stores, open_stores
from tests.servers import new_database
from tests.unit.engine_kit import DAY, GUILD, NOON, member, origin, request

# Discord ids are 64-bit: one near the top of the range must come back as it went in.
BIG_USER = 1_234_567_890_123_456_789
OTHER_GUILD = 700_000_000_000_000_001


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(new_database(request.getfixturevalue("postgres_server")))
        opened = await open_stores(url, Database(tmp_path / "journal.db"))
        stack.push_async_callback(opened.close)
        yield opened


def new_job(
    prompt: str = "a cat",
    *,
    user_id: int = 1,
    guild_id: int | None = GUILD,
    at: float = NOON,
    units: int = 1,
    model: str = "gem",
    estimate: float | None = None,
    **fields: object,
) -> Job:
    who = origin(member(user_id, guild_id=guild_id))
    return Job(0, request(prompt, model=model, **fields), who, units, created_at=at, estimate=estimate)


async def test_a_job_comes_back_as_it_was_journaled(stores: Stores) -> None:
    job = new_job(
        "a red fox",
        user_id=BIG_USER,
        units=2,
        count=2,
        aspect_ratio="16:9",
        kind=Kind.EDIT,
        sources=(SourceImage("p.png", "https://cdn.example/p.png", "image/png", 100),),
        parent=Parent(41, 1, "edit"),
        estimate=0.078,
    )
    job.notes = (Note("note.count", {"count": 2}),)
    job.origin = replace(job.origin, reply_to=99, locale="de")
    await stores.jobs.add(job)
    assert job.id > 0
    got = await stores.jobs.get(job.id)
    assert got is not None
    assert got.request == job.request and got.origin == job.origin and got.notes == job.notes
    assert (got.units, got.status, got.created_at, got.estimate, got.cost) == (
        2,
        JobStatus.QUEUED,
        NOON,
        0.078,
        None,
    )
    assert got.origin.token == "interaction-token" and got.origin.user_id == BIG_USER
    assert await stores.jobs.get(job.id + 1000) is None


async def test_a_burst_of_jobs_gets_distinct_growing_ids(stores: Stores) -> None:
    jobs = [new_job(f"cat {i}", user_id=i + 1) for i in range(20)]
    await asyncio.gather(*(stores.jobs.add(job) for job in jobs))
    ids = [job.id for job in jobs]
    assert len(set(ids)) == 20
    for job in jobs:
        got = await stores.jobs.get(job.id)
        assert got is not None and got.request.prompt == job.request.prompt
    later = await stores.jobs.add(new_job("later"))
    assert later.id > max(ids)


async def test_updates_reach_the_job_and_the_journal(stores: Stores) -> None:
    job = await stores.jobs.add(new_job())
    await stores.jobs.update(job, status=JobStatus.RUNNING, started_at=NOON + 1.5, upstream_task="task-7")
    assert job.status is JobStatus.RUNNING and job.upstream_task == "task-7"
    got = await stores.jobs.get(job.id)
    assert got is not None
    assert (got.status, got.started_at, got.upstream_task) == (JobStatus.RUNNING, NOON + 1.5, "task-7")
    await stores.jobs.update(job, message_id=BIG_USER, delivered_at=NOON + 9, cancelled_by=5, error="X")
    got = await stores.jobs.get(job.id)
    assert got is not None and (got.message_id, got.delivered_at, got.cancelled_by, got.error) == (
        BIG_USER,
        NOON + 9,
        5,
        "X",
    )
    with pytest.raises(ValueError, match="not a job column"):
        await stores.jobs.update(job, prompt="no")


async def test_a_result_is_kept_with_its_cost(stores: Stores) -> None:
    job = await stores.jobs.add(new_job(estimate=0.04))
    assert await stores.jobs.result(job.id) is None
    result = StoredResult("text", (("note.a", {"n": 2}),), 3.25, "task-1", (("Upscale", "⬆️", "bb:x:1"),))
    await stores.jobs.set_result(job, result, NOON + 10, cost=0.039)
    assert (job.status, job.finished_at, job.cost) == (JobStatus.DONE, NOON + 10, 0.039)
    assert await stores.jobs.result(job.id) == result
    got = await stores.jobs.get(job.id)
    assert got is not None and (got.status, got.finished_at, got.cost) == (JobStatus.DONE, NOON + 10, 0.039)


async def test_unfinished_is_what_a_restart_picks_up(stores: Stores) -> None:
    queued = await stores.jobs.add(new_job("queued"))
    running = await stores.jobs.add(new_job("running"))
    undelivered = await stores.jobs.add(new_job("undelivered"))
    delivered = await stores.jobs.add(new_job("delivered"))
    undeliverable = await stores.jobs.add(new_job("undeliverable"))
    failed = await stores.jobs.add(new_job("failed"))
    await stores.jobs.update(running, status=JobStatus.RUNNING)
    for job in (undelivered, delivered, undeliverable):
        await stores.jobs.set_result(job, StoredResult(), NOON + 5)
    await stores.jobs.update(delivered, delivered_at=NOON + 6)
    await stores.jobs.update(undeliverable, delivery_error="Forbidden")
    await stores.jobs.update(failed, status=JobStatus.FAILED)
    assert [j.id for j in await stores.jobs.unfinished()] == [queued.id, running.id, undelivered.id]


async def test_a_message_finds_its_done_job(stores: Stores) -> None:
    older = await stores.jobs.add(new_job("older"))
    newer = await stores.jobs.add(new_job("newer"))
    failed = await stores.jobs.add(new_job("failed"))
    for job in (older, newer):
        await stores.jobs.set_result(job, StoredResult(), NOON + 5)
        await stores.jobs.update(job, message_id=77)
    await stores.jobs.update(failed, status=JobStatus.FAILED, message_id=88)
    found = await stores.jobs.for_message(77)
    assert found is not None and found.id == newer.id
    assert await stores.jobs.for_message(88) is None


async def test_a_members_results_come_newest_first_a_page_at_a_time(stores: Stores) -> None:
    done = []
    for i in range(5):
        job = await stores.jobs.add(new_job(f"r{i}", user_id=3))
        await stores.jobs.set_result(job, StoredResult(), NOON + i)
        await stores.jobs.update(job, message_id=1000 + i)
        done.append(job.id)
    unshown = await stores.jobs.add(new_job("no message", user_id=3))
    await stores.jobs.set_result(unshown, StoredResult(), NOON + 9)
    someone_else = await stores.jobs.add(new_job("other", user_id=4))
    await stores.jobs.set_result(someone_else, StoredResult(), NOON + 9)
    await stores.jobs.update(someone_else, message_id=5000)
    page, total = await stores.jobs.finished_for(3, NOON + 1, limit=2, offset=0)
    assert total == 4 and [j.id for j in page] == [done[4], done[3]]
    page, total = await stores.jobs.finished_for(3, NOON + 1, limit=2, offset=2)
    assert total == 4 and [j.id for j in page] == [done[2], done[1]]


async def test_units_count_what_is_open_or_done_since_a_moment(stores: Stores) -> None:
    await stores.jobs.add(new_job(user_id=1, units=2))
    running = await stores.jobs.add(new_job(user_id=1, units=1))
    await stores.jobs.update(running, status=JobStatus.RUNNING)
    done = await stores.jobs.add(new_job(user_id=1, units=4))
    await stores.jobs.set_result(done, StoredResult(), NOON + 1)
    failed = await stores.jobs.add(new_job(user_id=1, units=8))
    await stores.jobs.update(failed, status=JobStatus.FAILED)
    cancelled = await stores.jobs.add(new_job(user_id=1, units=16))
    await stores.jobs.update(cancelled, status=JobStatus.CANCELLED)
    await stores.jobs.add(new_job(user_id=1, units=32, at=NOON - DAY))
    await stores.jobs.add(new_job(user_id=2, units=64))
    await stores.jobs.add(new_job(user_id=2, units=128, guild_id=OTHER_GUILD))
    assert await stores.jobs.units_since(NOON - 60, user_id=1) == 7
    assert await stores.jobs.units_since(NOON - 2 * DAY, user_id=1) == 39
    assert await stores.jobs.units_since(NOON - 60, guild_id=GUILD) == 71
    assert await stores.jobs.units_since(NOON + 60, user_id=1) == 0
    with pytest.raises(ValueError):
        await stores.jobs.units_since(NOON)


async def test_spending_counts_costs_when_done_and_estimates_while_open(stores: Stores) -> None:
    await stores.jobs.add(new_job(user_id=1, model="a", estimate=0.5))
    done = await stores.jobs.add(new_job(user_id=1, model="b", estimate=1.0))
    await stores.jobs.set_result(done, StoredResult(), NOON + 1, cost=0.25)
    failed = await stores.jobs.add(new_job(user_id=2, model="a", estimate=4.0))
    await stores.jobs.update(failed, status=JobStatus.FAILED)
    free = await stores.jobs.add(new_job(user_id=3, model="c"))
    await stores.jobs.set_result(free, StoredResult(), NOON + 1)
    await stores.jobs.add(new_job(user_id=2, model="b", estimate=2.0))
    await stores.jobs.add(new_job(user_id=2, model="b", estimate=8.0, guild_id=OTHER_GUILD))
    await stores.jobs.add(new_job(user_id=2, model="b", estimate=16.0, at=NOON - DAY))
    since = NOON - 60
    assert await stores.jobs.spent_since(since, user_id=1) == pytest.approx(0.75)
    assert await stores.jobs.spent_since(since, user_id=2) == pytest.approx(10.0)
    assert await stores.jobs.spent_since(since, guild_id=GUILD) == pytest.approx(2.75)
    assert await stores.jobs.spent_since(NOON + 60, user_id=1) == 0.0
    assert await stores.jobs.spent_since(since) == pytest.approx(10.75)  # every job's
    day, month, server = await stores.jobs.spend_of(2, GUILD, since, NOON - 2 * DAY)
    assert (day, month, server) == (pytest.approx(10.0), pytest.approx(26.0), pytest.approx(18.75))
    by_model = await stores.jobs.spend_by_model(GUILD, since)
    assert [(m, round(v, 6)) for m, v in by_model] == [("b", 2.25), ("a", 0.5)]
    spenders = await stores.jobs.top_spenders(GUILD, since)
    assert [(u, round(v, 6)) for u, v in spenders] == [(2, 2.0), (1, 0.75)]
    assert len(await stores.jobs.top_spenders(GUILD, since, limit=1)) == 1


async def test_the_cooldown_sees_the_last_job_that_counts(stores: Stores) -> None:
    assert await stores.jobs.last_request(1) is None
    await stores.jobs.add(new_job(user_id=1, at=NOON))
    failed = await stores.jobs.add(new_job(user_id=1, at=NOON + 30))
    await stores.jobs.update(failed, status=JobStatus.FAILED)
    await stores.jobs.add(new_job(user_id=2, at=NOON + 60))
    assert await stores.jobs.last_request(1) == NOON


async def test_top_users_rank_pictures_per_server(stores: Stores) -> None:
    await stores.jobs.add(new_job(user_id=1, units=1))
    await stores.jobs.add(new_job(user_id=2, units=3))
    await stores.jobs.add(new_job(user_id=1, units=1))
    await stores.jobs.add(new_job(user_id=3, units=9, guild_id=OTHER_GUILD))
    failed = await stores.jobs.add(new_job(user_id=4, units=9))
    await stores.jobs.update(failed, status=JobStatus.FAILED)
    assert await stores.jobs.top_users(GUILD, NOON - 60) == [(2, 3), (1, 2)]
    assert await stores.jobs.top_users(GUILD, NOON - 60, limit=1) == [(2, 3)]


async def test_model_stats_count_outcomes_and_the_median_time(stores: Stores) -> None:
    for seconds in (2.0, 4.0, 9.0):
        job = await stores.jobs.add(new_job(model="a"))
        await stores.jobs.update(job, status=JobStatus.RUNNING, started_at=NOON)
        await stores.jobs.set_result(job, StoredResult(), NOON + seconds)
    failed = await stores.jobs.add(new_job(model="b"))
    await stores.jobs.update(failed, status=JobStatus.FAILED, finished_at=NOON + 1)
    old = await stores.jobs.add(new_job(model="a"))
    await stores.jobs.set_result(old, StoredResult(), NOON - DAY)
    stats = await stores.jobs.model_stats(NOON - 60)
    assert [(s.model, s.done, s.failed, s.median_seconds) for s in stats] == [
        ("a", 3, 0, 4.0),
        ("b", 0, 1, None),
    ]


async def test_actions_keep_their_long_ids_behind_short_keys(stores: Stores) -> None:
    actions = (
        Action("U1", "⬆️", "MJ::JOB::upsample::1::" + "x" * 80),
        Action("V1", "🔄", "MJ::JOB::variation::1"),
    )
    ids = await stores.actions.add("midjourney", "task-9", actions)
    assert len(ids) == 2 and ids[0] < ids[1]
    first = await stores.actions.get(ids[0])
    assert first is not None and (first.model, first.task_id, first.action) == (
        "midjourney",
        "task-9",
        actions[0],
    )
    second = await stores.actions.get(ids[1])
    assert second is not None and second.action == actions[1]
    assert await stores.actions.get(ids[1] + 100) is None


async def test_tokens_are_kept_apart_from_the_origin_text(stores: Stores) -> None:
    """The interaction token has its own column, so the origin's JSON never carries it."""
    job = await stores.jobs.add(new_job())
    got = await stores.jobs.get(job.id)
    assert got is not None and got.origin.token == "interaction-token"
    bare = await stores.jobs.add(
        Job(0, request(), Origin(5, "someone", 6, token=None, token_expires_at=None), 1, created_at=NOON)
    )
    got = await stores.jobs.get(bare.id)
    assert got is not None and got.origin.token is None and got.origin.guild_id is None


@pytest.mark.parametrize(
    ("protocol", "implementations"),
    [
        ("bot.jobs.store:JobStore", ("bot.jobs.store:SqliteJobStore", "bot.jobs.pg_store:PostgresJobStore")),
        ("bot.storage:ActionStore", ("bot.storage:SqliteActionStore", "bot.postgres:PgActionStore")),
    ],
)
def test_every_journal_has_every_method_of_the_interface(
    protocol: str, implementations: tuple[str, ...]
) -> None:
    """A method added to the interface for one journal must be written for the other too."""
    import importlib
    import inspect

    def load(path: str) -> type:
        module, name = path.split(":")
        return getattr(importlib.import_module(module), name)

    interface = load(protocol)
    wanted = {
        n: inspect.signature(f)
        for n, f in vars(interface).items()
        if inspect.isfunction(f) and not n.startswith("_")
    }
    for path in implementations:
        made = load(path)
        for name, signature in wanted.items():
            assert hasattr(made, name), f"{path} has no {name}"
            assert list(inspect.signature(getattr(made, name)).parameters) == list(signature.parameters), (
                f"{path}.{name} takes other parameters than {protocol}"
            )
