"""The journal's side of gateway and worker processes (bot/jobs/shared.py) on a real PostgreSQL:
claims under the caps, slots held until let go, leases, a dead worker's jobs, one delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.model import JobStatus
from bot.jobs.shared import SharedJournal
from bot.storage import Database
from bot.stores import Stores, open_stores
from tests.servers import new_database
from tests.unit.test_store_contract import new_job

HEARTBEAT = 2.0


def keys_of(model: str) -> tuple[str, ...]:
    return ("gemini", model)


@pytest.fixture
async def stores(postgres_server: object, tmp_path: Path) -> AsyncIterator[Stores]:
    async with new_database(postgres_server) as url:  # type: ignore[arg-type]
        opened = await open_stores(url, Database(tmp_path / "unused.db"))
        try:
            yield opened
        finally:
            await opened.close()


@pytest.fixture
def journal(stores: Stores) -> SharedJournal:
    assert stores.shared is not None
    return SharedJournal(stores.shared, heartbeat=HEARTBEAT)


MODELS: dict[int, str] = {}  # each journaled job's model, for `claim`


async def jobs(stores: Stores, *models: str) -> list[int]:
    made = [new_job(f"job {n}", model=model) for n, model in enumerate(models)]
    await asyncio.gather(*(stores.jobs.add(job) for job in made))
    MODELS.update({job.id: job.model for job in made})
    return [job.id for job in made]


async def claim(journal: SharedJournal, ids: list[int], caps: dict[str, int], cap: int = 0) -> list[int]:
    """What one gateway pass would dispatch of these jobs, in this order."""
    async with journal.claiming(keys_of, cap) as room:
        for job_id in ids:
            if room.fits(keys_of(MODELS[job_id]), caps):
                await room.take(job_id, keys_of(MODELS[job_id]))
    return room.taken


async def test_nothing_is_dispatched_without_a_live_worker_and_the_workers_sum_is_the_room(
    stores: Stores, journal: SharedJournal
) -> None:
    ids = await jobs(stores, *["flash"] * 6)
    assert await claim(journal, ids, {}) == []
    await journal.beat("host:1", 2, 0)
    await journal.beat("host:2", 3, 0)
    assert await claim(journal, ids, {}) == ids[:5]
    assert await claim(journal, ids[5:], {}) == [], "five slots, five held"
    assert [(w.id, w.concurrency, w.alive) for w in await journal.workers()] == [
        ("host:1", 2, True),
        ("host:2", 3, True),
    ]


async def test_the_global_cap_and_the_per_model_caps_count_every_gateways_jobs(
    stores: Stores, journal: SharedJournal
) -> None:
    await journal.beat("host:1", 8, 0)
    ids = await jobs(stores, "pro", "pro", "flash", "flash", "flash")
    assert await claim(journal, ids, {"pro": 1}, cap=3) == [ids[0], ids[2], ids[3]]
    # Another gateway's claim sees the same three held.
    other = SharedJournal(journal.db, heartbeat=HEARTBEAT)
    assert await claim(other, [ids[1], ids[4]], {"pro": 1}, cap=3) == []
    await journal.lease(ids[0], "host:1")
    await journal.release(ids[0], "host:1")
    assert await claim(other, [ids[1], ids[4]], {"pro": 1}, cap=3) == [ids[1]]


async def test_a_cancelled_or_ended_job_is_not_dispatched(stores: Stores, journal: SharedJournal) -> None:
    await journal.beat("host:1", 8, 0)
    ids = await jobs(stores, "flash", "flash")
    assert await journal.mark_cancelled(ids[0], 42)
    assert not await journal.mark_cancelled(ids[0], 43), "one cancel"
    job = await stores.jobs.get(ids[1])
    assert job is not None
    await stores.jobs.update(job, status=JobStatus.FAILED)
    assert await claim(journal, ids, {}) == []
    assert await journal.cancelled_by(ids) == {ids[0]: 42}


async def test_one_lease_at_a_time_and_a_dead_workers_is_taken_over(
    stores: Stores, journal: SharedJournal
) -> None:
    await journal.beat("host:1", 1, 0)
    await journal.beat("host:2", 1, 0)
    (job_id,) = await jobs(stores, "flash")
    assert await journal.lease(job_id, "host:1") == "gone", "not dispatched yet"
    assert await claim(journal, [job_id], {}) == [job_id]
    assert await journal.lease(job_id, "host:1") == "mine"
    assert await journal.lease(job_id, "host:2") == "held"
    assert await journal.lease(job_id, "host:1") == "mine", "asking again keeps it"
    # host:1 stops beating: once its heartbeat is older than HEARTBEAT, host:2 takes the job.
    await journal.db.execute("UPDATE workers SET seen_at = seen_at - ? WHERE id = ?", HEARTBEAT + 1, "host:1")
    assert await journal.lease(job_id, "host:2") == "mine"
    assert await journal.lease(job_id, "host:1") == "held"
    await journal.release(job_id, "host:2")
    assert await journal.lease(job_id, "host:2") == "gone", "let go: a late entry finds nothing to do"


async def test_a_dead_workers_job_holds_no_slot(stores: Stores, journal: SharedJournal) -> None:
    await journal.beat("host:1", 1, 0)
    ids = await jobs(stores, "flash", "flash")
    assert await claim(journal, ids, {}) == ids[:1]
    assert await journal.lease(ids[0], "host:1") == "mine"
    await journal.beat("host:2", 1, 0)
    await journal.db.execute("UPDATE workers SET seen_at = seen_at - ? WHERE id = ?", HEARTBEAT + 1, "host:1")
    # The room is host:2's one slot, and host:1's job holds none of it.
    assert await claim(journal, ids[1:], {}) == ids[1:]
    assert [w.alive for w in await journal.workers()] == [False, True]


async def test_a_job_given_back_stays_dispatched_for_the_next_worker(
    stores: Stores, journal: SharedJournal
) -> None:
    await journal.beat("host:1", 1, 0)
    (job_id,) = await jobs(stores, "flash")
    await claim(journal, [job_id], {})
    await journal.lease(job_id, "host:1")
    job = await stores.jobs.get(job_id)
    assert job is not None
    await stores.jobs.update(job, status=JobStatus.RUNNING)
    await journal.hand_back(job_id, "host:1")
    again = await stores.jobs.get(job_id)
    assert again is not None and again.status is JobStatus.QUEUED
    assert await journal.lost() == [job_id], "still dispatched: the sweeper keeps it in the queue"
    assert await journal.lease(job_id, "host:2") == "mine"


async def test_one_worker_posts_a_result(stores: Stores, journal: SharedJournal) -> None:
    await journal.beat("host:1", 1, 0)
    await journal.beat("host:2", 1, 0)
    (job_id,) = await jobs(stores, "flash")
    await claim(journal, [job_id], {})
    assert await journal.lease(job_id, "host:1") == "mine"
    assert await journal.claim_delivery(job_id, "host:1")
    assert not await journal.claim_delivery(job_id, "host:2")
    job = await stores.jobs.get(job_id)
    assert job is not None
    await stores.jobs.update(job, delivered_at=1.0)
    assert not await journal.claim_delivery(job_id, "host:1"), "posted already"


async def test_a_done_job_being_posted_holds_no_slot_and_is_not_put_back_while_its_worker_lives(
    stores: Stores, journal: SharedJournal
) -> None:
    await journal.beat("host:1", 1, 0)
    ids = await jobs(stores, "flash", "flash")
    assert await claim(journal, ids, {}) == ids[:1]
    assert await journal.lease(ids[0], "host:1") == "mine"
    job = await stores.jobs.get(ids[0])
    assert job is not None
    await stores.jobs.update(job, status=JobStatus.DONE)
    # Its picture is made: the slot goes to the next job while the result is posted.
    assert await claim(journal, ids[1:], {}) == ids[1:]
    assert await journal.lost() == ids[1:], "the one being posted is not lost"
    await journal.db.execute("UPDATE workers SET seen_at = seen_at - ? WHERE id = ?", HEARTBEAT + 1, "host:1")
    assert await journal.lost() == ids, "its worker died before posting it: another must"
