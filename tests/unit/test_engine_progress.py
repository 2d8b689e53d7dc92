"""What a member sees while a job is open: its place in the queue, its seconds, its percentage."""

from __future__ import annotations

from bot.jobs.engine import JobEngine
from bot.jobs.model import JobStatus
from bot.jobs.state import ProgressView
from bot.providers.base import Progress
from tests.unit.engine_kit import PNG, Kit, member, until


async def settled(engine: JobEngine) -> None:
    """Every edit the last tick started has ended."""
    await until(lambda: not engine.board.background, "the progress edits to end")


def views(kit: Kit, job_id: int) -> list[ProgressView]:
    return [c.value for c in kit.sink.of("progress", job_id)]


async def test_waiting_jobs_are_shown_their_place_in_turn_order_and_only_changes_are_sent(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1, max_jobs_per_user=10)
    running = await kit.submit(engine, "running", member(9))
    b1 = await kit.submit(engine, "b1", member(2))
    b2 = await kit.submit(engine, "b2", member(2))
    c1 = await kit.submit(engine, "c1", member(3))
    await kit.service.started("running")
    engine.progress.show_all()
    await settled(engine)
    assert views(kit, b1.id) == [ProgressView(JobStatus.QUEUED, ahead=0)]
    assert views(kit, c1.id) == [ProgressView(JobStatus.QUEUED, ahead=1)]
    assert views(kit, b2.id) == [ProgressView(JobStatus.QUEUED, ahead=2)]
    assert views(kit, running.id) == []  # a job that just started goes straight to its result

    engine.progress.show_all()
    assert not engine.board.background  # nothing changed: no edit at all

    engine.cancel(c1.id, member(3))
    await kit.sink.wait_for("cancelled", c1.id)
    engine.progress.show_all()
    await settled(engine)
    assert views(kit, b2.id)[-1] == ProgressView(JobStatus.QUEUED, ahead=1)
    assert len(views(kit, b1.id)) == 1


async def test_a_running_job_shows_its_seconds_percent_and_preview(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "slow")
    run = await kit.service.started("slow")
    kit.clock.mono += 7.4
    engine.progress.show_all()
    await settled(engine)
    assert views(kit, job.id) == [ProgressView(JobStatus.RUNNING, seconds=7)]

    run.report(Progress("running", percent=40, preview_url="https://cdn.example/preview.png"))
    await until(lambda: run.reported == 1, "the progress to be taken")
    await until(lambda: kit.active(engine, job.id).preview is not None, "the preview to be downloaded")
    run.report(Progress("running"))  # says nothing new: the last percent and preview stay
    await until(lambda: run.reported == 2, "the progress to be taken")
    engine.progress.show_all()
    await settled(engine)
    assert views(kit, job.id)[-1] == ProgressView(JobStatus.RUNNING, seconds=7, percent=40, preview=PNG)
    assert kit.service.previews == ["https://cdn.example/preview.png"], "downloaded once, never shown"


async def test_a_quick_job_with_a_percentage_is_shown_at_once(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "quick")
    run = await kit.service.started("quick")
    run.report(Progress("running", percent=5))
    await until(lambda: run.reported == 1, "the progress to be taken")
    engine.progress.show_all()
    await settled(engine)
    assert views(kit, job.id) == [ProgressView(JobStatus.RUNNING, seconds=0, percent=5)]


async def test_the_message_that_shows_a_job_is_journaled(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    await kit.submit(engine, "running", member(1))
    waiting = await kit.submit(engine, "waiting", member(2))
    kit.sink.message_ids[waiting.id] = 4242
    engine.progress.show_all()
    await settled(engine)
    assert waiting.message_id == 4242
    assert (await kit.row(waiting.id))["message_id"] == 4242


async def test_a_failed_edit_does_not_end_the_job_and_is_tried_again(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "slow")
    run = await kit.service.started("slow")
    kit.clock.mono += 3
    kit.sink.raises["progress"] = RuntimeError("rate limited")
    engine.progress.show_all()
    await settled(engine)
    assert len(views(kit, job.id)) == 1 and kit.active(engine, job.id).shown is None
    del kit.sink.raises["progress"]
    engine.progress.show_all()
    await settled(engine)
    assert len(views(kit, job.id)) == 2
    assert kit.active(engine, job.id).shown == ProgressView(JobStatus.RUNNING, seconds=3)
    run.succeed()
    assert (await kit.sink.ending(job.id)).kind == "deliver"


async def test_an_edit_under_way_when_the_job_is_cancelled_is_dropped(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    await kit.submit(engine, "running", member(1))
    who = member(2)
    waiting = await kit.submit(engine, "waiting", who)
    engine.progress.show_all()  # starts the edit ...
    engine.cancel(waiting.id, who)  # ... which finds the job cancelled
    await kit.sink.wait_for("cancelled", waiting.id)
    await settled(engine)
    assert views(kit, waiting.id) == []


async def test_the_tick_shows_places_every_progress_every_seconds(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    engine.progress_every = 0.01
    await engine.start()
    await kit.submit(engine, "running", member(1))
    waiting = await kit.submit(engine, "waiting", member(2))
    call = await kit.sink.wait_for("progress", waiting.id)
    assert call.value == ProgressView(JobStatus.QUEUED, ahead=0)
    await engine.drain()
    await until(lambda: all(task.done() for task in engine._loops), "the drain to stop the tick")


async def test_a_job_whose_message_is_being_written_is_skipped_for_that_tick(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    await kit.submit(engine, "running", member(1))
    waiting = await kit.submit(engine, "waiting", member(2))
    active = kit.active(engine, waiting.id)
    async with active.message_lock:
        engine.progress.show_all()
        assert not engine.board.background  # skipped, not queued behind the lock
    engine.progress.show_all()
    await settled(engine)
    assert len(views(kit, waiting.id)) == 1
