"""A start picks up what the journal holds open; a drain leaves what it cannot finish for the next;
old pictures are cleaned away in between."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.errors import UnknownModel
from bot.jobs.model import Job, JobStatus
from bot.jobs.state import Phase, ProgressView
from bot.jobs.store import StoredResult
from bot.providers.base import Action
from bot.request import InputImage, Note
from tests.unit.engine_kit import NOON, PNG, Kit, member, origin, request, sources, until

RESULT = StoredResult(
    "kept text", (("note.kept", {"n": "1"}),), 4.5, "task-7", (("V1", "🔁", "mj::variation::1"),)
)


async def journal(
    kit: Kit, prompt: str, *, status: JobStatus = JobStatus.QUEUED, user_id: int = 1, **fields: Any
) -> Job:
    """A job the last run left in the journal."""
    who = member(user_id)
    model = fields.pop("model", "gem")
    job = Job(0, request(prompt, model=model, sources=fields.pop("sources", ())), origin(who), 1)
    job.created_at = kit.clock.now
    await kit.store.add(job)
    if status is JobStatus.DONE:
        await kit.store.set_result(job, RESULT, kit.clock.now)
    elif status is not JobStatus.QUEUED:
        fields["status"] = status
    if fields:
        await kit.store.update(job, **fields)
    return job


async def test_start_resumes_queued_and_running_jobs_following_their_tasks(kit: Kit) -> None:
    queued = await journal(kit, "queued", user_id=1)
    running = await journal(
        kit, "running", user_id=2, model="mj", status=JobStatus.RUNNING, upstream_task="T-9"
    )
    prepared = await journal(kit, "prepared", user_id=3, sources=sources(1))
    await kit.files.save_inputs(prepared.id, (InputImage(PNG, "image/png"),))
    unprepared = await journal(kit, "unprepared", user_id=4, sources=sources(2))
    engine = kit.engine(max_concurrent_jobs=4)
    await engine.start()

    assert (await kit.service.started("queued")).task_id is None
    assert (await kit.service.started("running")).task_id == "T-9"
    prepared_run = await kit.service.started("prepared")
    assert [i.data for i in prepared_run.plan.request.images] == [PNG]
    unprepared_run = await kit.service.started("unprepared")
    assert len(unprepared_run.plan.request.images) == 2
    assert [p.request.prompt for p in kit.service.loads] == ["unprepared"]  # fetched again, only it
    for run in list(kit.service.runs):
        run.succeed()
    for job in (queued, running, prepared, unprepared):
        assert (await kit.sink.ending(job.id)).kind == "deliver"
    await until(lambda: not engine.board.active, "every resumed job to be let go")
    assert await kit.store.unfinished() == []


async def test_jobs_waiting_after_a_restart_are_shown_their_place_at_once(kit: Kit) -> None:
    await journal(kit, "first", user_id=1)
    second = await journal(kit, "second", user_id=2)
    engine = kit.engine(max_concurrent_jobs=1)
    await engine.start()
    call = await kit.sink.wait_for("progress", second.id)
    assert call.value == ProgressView(JobStatus.QUEUED, ahead=0)
    assert kit.active(engine, second.id).phase is Phase.WAITING


async def test_a_result_never_confirmed_posted_is_delivered_again(kit: Kit) -> None:
    job = await journal(kit, "done", status=JobStatus.DONE)
    await kit.files.save_results(job.id, kit.service.delivery(kit.service.plan_request(job.request)).images)
    kit.clock.advance(60)
    engine = kit.engine()
    await engine.start()
    call = await kit.sink.wait_for("deliver", job.id)
    delivery = call.value
    assert (delivery.text, delivery.seconds, delivery.task_id) == ("kept text", 4.5, "task-7")
    assert delivery.notes == (Note("note.kept", {"n": "1"}),)
    assert delivery.actions == (Action("V1", "🔁", "mj::variation::1"),)
    assert [(i.data, i.width, i.height) for i in delivery.images] == [(PNG, 4, 4)]
    assert delivery.plan.request.prompt == "done" and delivery.plan.route.format == "gemini"
    await until(lambda: engine.job(job.id) is None, "the redelivered job to be let go")
    assert (await kit.row(job.id))["delivered_at"] == NOON + 60
    assert kit.service.runs == []  # not run again


async def test_a_result_posted_before_the_crash_is_not_posted_twice(kit: Kit) -> None:
    job = await journal(kit, "done", status=JobStatus.DONE)
    kit.sink.delivered_before.add(job.id)
    engine = kit.engine()
    await engine.start()
    await kit.sink.wait_for("was_delivered", job.id)
    await until(lambda: engine.job(job.id) is None, "the job to be let go")
    assert kit.sink.of("deliver") == []
    assert (await kit.row(job.id))["delivered_at"] == NOON
    assert await kit.store.unfinished() == []


async def test_a_result_whose_pictures_are_gone_is_recorded_and_not_tried_again(kit: Kit) -> None:
    job = await journal(kit, "done", status=JobStatus.DONE)
    engine = kit.engine()
    await engine.start()
    await kit.sink.wait_for("was_delivered", job.id)
    await until(lambda: engine.job(job.id) is None, "the job to be let go")
    row = await kit.row(job.id)
    assert row["delivery_error"].startswith("FileNotFoundError") and row["delivered_at"] is None
    assert kit.sink.of("deliver") == [] and await kit.store.unfinished() == []


async def test_a_job_whose_model_was_removed_fails_with_unknown_model(kit: Kit) -> None:
    gone = await journal(kit, "old model", model="retired")
    kept = await journal(kit, "kept", user_id=2)
    engine = kit.engine()
    await engine.start()
    call = await kit.sink.ending(gone.id)
    assert call.kind == "fail" and isinstance(call.value, UnknownModel)
    await until(lambda: engine.job(gone.id) is None, "the failed job to be let go")
    row = await kit.row(gone.id)
    assert (row["status"], row["error"]) == (JobStatus.FAILED.value, "UnknownModel")
    await kit.service.started("kept")
    assert engine.job(kept.id) is not None  # the others resume as before


async def test_drain_lets_a_running_job_finish_within_the_grace(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1, shutdown_grace=30.0)
    first = await kit.submit(engine, "first", member(1))
    second = await kit.submit(engine, "second", member(2))
    run = await kit.service.started("first")
    draining = asyncio.create_task(engine.drain())
    await until(lambda: not engine.accepting, "the drain to begin")
    run.succeed()
    await asyncio.wait_for(draining, 5)
    assert (await kit.sink.ending(first.id)).kind == "deliver"
    assert (await kit.row(first.id))["delivered_at"] == NOON
    assert kit.service.runs_of("second") == []  # the freed slot takes no new job while stopping
    assert await kit.status_of(second.id) == JobStatus.QUEUED.value
    notice = await kit.sink.wait_for("progress", second.id)
    assert notice.value == ProgressView(JobStatus.QUEUED, restarting=True)


async def test_drain_leaves_interrupted_jobs_in_the_journal_and_the_next_start_runs_them(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1, shutdown_grace=0.0)
    running = await kit.submit(engine, "running", member(1))
    waiting = await kit.submit(engine, "waiting", member(2))
    run = await kit.service.started("running")
    await engine.drain()
    await engine.drain()  # a second stop is harmless
    assert run.cancelled
    assert await kit.status_of(running.id) == JobStatus.RUNNING.value
    assert await kit.status_of(waiting.id) == JobStatus.QUEUED.value
    for job in (running, waiting):
        notice = await kit.sink.wait_for("progress", job.id)
        assert notice.value == ProgressView(JobStatus.QUEUED, restarting=True)
    assert [c.kind for c in kit.sink.calls if c.kind != "progress"] == []
    assert [j.id for j in await kit.store.unfinished()] == [running.id, waiting.id]

    restarted = kit.engine()
    await restarted.start()
    (await kit.service.started("running", count=2)).succeed()
    (await kit.service.started("waiting")).succeed()
    for job in (running, waiting):
        assert (await kit.sink.ending(job.id)).kind == "deliver"
    await until(lambda: not restarted.board.active, "the resumed jobs to be let go")
    assert await kit.store.unfinished() == []


async def test_clean_files_keeps_pictures_for_the_retention_then_removes_them(kit: Kit) -> None:
    engine = kit.engine(result_retention_hours=1.0)
    finished = await journal(kit, "finished", status=JobStatus.DONE)
    await kit.files.save_results(
        finished.id, kit.service.delivery(kit.service.plan_request(finished.request)).images
    )
    unfinished = await journal(kit, "unfinished", sources=sources(1))
    await kit.files.save_inputs(unfinished.id, (InputImage(PNG, "image/png"),))
    running = await kit.submit(engine, "running", sources=sources(1))
    await kit.service.started("running")
    orphan = kit.files.folder(99_999)
    orphan.mkdir(parents=True)

    kit.clock.advance(30 * 60)
    assert await engine.clean_files() == 1  # the folder no job in the journal owns
    assert not orphan.exists() and kit.files.folder(finished.id).exists()
    kit.clock.advance(31 * 60)
    assert await engine.clean_files() == 1
    assert not kit.files.folder(finished.id).exists()
    assert kit.files.folder(unfinished.id).exists() and kit.files.folder(running.id).exists()
    assert await engine.clean_files() == 0


async def test_start_runs_the_janitor_at_once(kit: Kit) -> None:
    orphan = kit.files.folder(12_345)
    orphan.mkdir(parents=True)
    engine = kit.engine()
    await engine.start()
    await until(lambda: not orphan.exists(), "the janitor to clean the orphan folder")


async def test_clean_files_spares_an_open_job_even_past_the_retention(kit: Kit) -> None:
    job = await journal(kit, "done long ago", status=JobStatus.DONE)
    await kit.files.save_results(job.id, kit.service.delivery(kit.service.plan_request(job.request)).images)
    kit.clock.advance(3 * 3600)
    kit.sink.holds["deliver"] = asyncio.Event()
    engine = kit.engine(result_retention_hours=1.0)
    # Only the resume part of start(): the janitor's own first pass would race with the calls here.
    assert await engine.lifecycle.resume() == 1
    await kit.sink.wait_for("deliver", job.id)  # being delivered again, held there
    assert await engine.clean_files() == 0 and kit.files.folder(job.id).exists()
    kit.sink.holds["deliver"].set()
    await until(lambda: engine.job(job.id) is None, "the redelivered job to be let go")
    assert await engine.clean_files() == 1 and not kit.files.folder(job.id).exists()
