"""The run of a job: fair turns and caps, the call under its time limit, its one ending, and cancel."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from bot.errors import ContentBlocked, JobAlreadyOver, JobTimedOut, NotYourJob, UnusableImage
from bot.jobs.engine import JobEngine
from bot.jobs.intake import BIG_INTAKE_BYTES
from bot.jobs.model import JobStatus
from bot.jobs.state import Phase
from bot.jobs.store import ModelStats, StoredResult
from bot.providers.base import Progress
from bot.request import SourceImage
from bot.service import Timing
from tests.unit.engine_kit import NOON, PNG, Kit, member, origin, request, sources, until


def slots_free(engine: JobEngine) -> bool:
    board = engine.board
    return board.running == 0 and +board.running_keys == Counter()


async def test_a_run_that_succeeds_is_saved_journaled_and_delivered(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "a cat")
    run = await kit.service.started("a cat")
    assert run.task_id is None and run.max_file_bytes == job.origin.upload_limit
    assert run.plan.request.model == "gem" and run.plan.route.format == "gemini"
    kit.clock.advance(30)
    run.succeed()
    call = await kit.sink.ending(job.id)
    assert call.kind == "deliver" and call.value.text == "made: a cat"
    await until(lambda: engine.job(job.id) is None, "the delivered job to be let go")
    row = await kit.row(job.id)
    assert row["status"] == JobStatus.DONE.value
    assert (row["started_at"], row["finished_at"], row["delivered_at"]) == (NOON, NOON + 30, NOON + 30)
    assert row["delivery_error"] is None and row["error"] is None
    results = await kit.files.load_results(job.id)
    assert results is not None and [r.data for r in results] == [PNG]
    assert await kit.store.result(job.id) == StoredResult(
        "made: a cat",
        (("note.test", {"prompt": "a cat"}),),
        1.5,
        "task-result",
        (("U1", "⬆", "mj::upsample::1"),),
    )
    assert slots_free(engine)
    assert await kit.store.unfinished() == []


async def test_a_jobs_pictures_go_to_its_run_and_stay_for_a_reroll_once_it_is_done(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "edit this", sources=sources(2))
    run = await kit.service.started("edit this")
    assert [i.data for i in run.plan.request.images] == [PNG, PNG]
    stored = await kit.files.load_inputs(job.id)
    assert stored is not None and len(stored) == 2  # kept for a restart while the job is open
    run.succeed()
    await kit.sink.wait_for("deliver", job.id)
    kept = await kit.files.load_inputs(job.id)
    assert kept is not None and [i.data for i in kept] == [PNG, PNG]


@pytest.mark.parametrize(
    ("error", "name"),
    [(ContentBlocked("blocked", reason_key="x"), "ContentBlocked"), (RuntimeError("bug"), "RuntimeError")],
)
async def test_a_failed_run_is_told_journaled_and_frees_its_slot_for_the_next(
    kit: Kit, error: Exception, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    first = await kit.submit(engine, "first", member(1))
    second = await kit.submit(engine, "second", member(2))
    assert kit.active(engine, second.id).phase is Phase.WAITING
    kit.clock.advance(5)
    with caplog.at_level(logging.INFO, logger="bot.jobs.runner"):
        (await kit.service.started("first")).fail(error)
        call = await kit.sink.ending(first.id)
    assert call.kind == "fail" and call.value is error
    assert f"Job {first.id}" in caplog.text
    await kit.service.started("second")
    row = await kit.row(first.id)
    assert (row["status"], row["error"], row["finished_at"]) == (JobStatus.FAILED.value, name, NOON + 5)
    await until(lambda: engine.job(first.id) is None, "the failed job to be let go")
    assert (await kit.row(first.id))["delivered_at"] == NOON + 5  # the member was told


async def test_members_take_turns_for_one_slot(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1, max_jobs_per_user=10)
    await kit.submit(engine, "z1", member(9))  # holds the slot while the others queue
    a, b, c = member(1), member(2), member(3)
    for prompt, who in (("a1", a), ("a2", a), ("a3", a), ("b1", b), ("c1", c)):
        await kit.submit(engine, prompt, who)
    order = []
    for count in range(1, 7):
        await until(lambda count=count: len(kit.service.runs) == count, f"run #{count} to start")
        run = kit.service.runs[-1]
        order.append(run.prompt)
        assert engine.board.running == 1
        run.succeed()
    assert order == ["z1", "a1", "b1", "c1", "a2", "a3"]


async def test_a_format_cap_holds_back_its_jobs_but_not_others_behind_them(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=2, max_jobs_per_user=10, concurrency_limits={"openai": 1})
    gpt1 = await kit.submit(engine, "gpt1", member(1), model="gpt")
    gpt2 = await kit.submit(engine, "gpt2", member(2), model="gpt")
    gem = await kit.submit(engine, "gem", member(3), model="gem")
    assert kit.active(engine, gpt1.id).phase is Phase.RUNNING
    assert kit.active(engine, gpt2.id).phase is Phase.WAITING
    assert kit.active(engine, gem.id).phase is Phase.RUNNING
    (await kit.service.started("gem")).succeed()
    await until(lambda: engine.job(gem.id) is None, "the gemini job to end")
    assert kit.active(engine, gpt2.id).phase is Phase.WAITING  # a slot is free, the cap is not
    (await kit.service.started("gpt1")).succeed()
    (await kit.service.started("gpt2")).succeed()
    await kit.sink.wait_for("deliver", gpt2.id)


async def test_a_model_cap_counts_that_model_only(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=3, max_jobs_per_user=10, concurrency_limits={"gem-pro": 1})
    pro1 = await kit.submit(engine, "pro1", member(1), model="gem-pro")
    pro2 = await kit.submit(engine, "pro2", member(2), model="gem-pro")
    gem = await kit.submit(engine, "gem", member(3), model="gem")
    assert [kit.active(engine, j.id).phase for j in (pro1, pro2, gem)] == [
        Phase.RUNNING,
        Phase.WAITING,
        Phase.RUNNING,
    ]
    assert engine.board.running_keys["gemini"] == 2 and engine.board.running_keys["gem-pro"] == 1
    (await kit.service.started("pro1")).fail(RuntimeError("gone"))
    await kit.service.started("pro2")


async def test_a_model_named_like_its_format_counts_once_against_a_cap(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=3, max_jobs_per_user=10, concurrency_limits={"mj": 2})
    first = await kit.submit(engine, "mj1", model="mj")
    second = await kit.submit(engine, "mj2", model="mj")
    assert kit.active(engine, first.id).keys == ("mj",)
    assert kit.active(engine, second.id).phase is Phase.RUNNING


async def test_a_run_past_its_time_limit_ends_in_job_timed_out(kit: Kit) -> None:
    kit.service.timings["gem"] = Timing(0.05)
    engine = kit.engine()
    job = await kit.submit(engine, "slow")
    run = await kit.service.started("slow")
    call = await kit.sink.ending(job.id)
    assert call.kind == "fail" and isinstance(call.value, JobTimedOut)
    assert call.value.params == {"seconds": "0"}
    assert run.cancelled
    await until(lambda: engine.job(job.id) is None, "the timed-out job to be let go")
    assert (await kit.row(job.id))["error"] == "JobTimedOut"
    assert slots_free(engine)


@pytest.mark.parametrize("restarts", [True, False])
async def test_progress_restarts_the_clock_of_a_task_timing_only(kit: Kit, restarts: bool) -> None:
    kit.service.timings["mj"] = Timing(30.0, restarts_on_progress=restarts)
    engine = kit.engine()
    job = await kit.submit(engine, "task", model="mj")
    run = await kit.service.started("task")
    deadline = kit.active(engine, job.id).deadline
    assert deadline is not None
    first = deadline.when()
    assert first is not None
    loop = asyncio.get_running_loop()
    await until(lambda: loop.time() > first - 30.0 + 0.001, "the loop clock to move")
    reported_at = loop.time()
    run.report(Progress("running", percent=10))
    await until(lambda: run.reported == 1, "the progress to be taken")
    moved = deadline.when()
    assert moved is not None
    if restarts:
        assert moved >= reported_at + 30.0 > first
    else:
        assert moved == first


async def test_a_task_id_from_progress_is_journaled_and_its_task_cancelled_with_the_job(kit: Kit) -> None:
    engine = kit.engine()
    who = member(1)
    job = await kit.submit(engine, "task", who, model="mj")
    run = await kit.service.started("task")
    run.report(Progress("submitted", task_id="T-1"))
    await until(lambda: run.reported == 1, "the progress to be taken")
    assert job.upstream_task == "T-1" and (await kit.row(job.id))["upstream_task"] == "T-1"
    kit.clock.advance(3)
    assert engine.cancel(job.id, who) is job
    call = await kit.sink.ending(job.id)
    assert call.kind == "cancelled" and run.cancelled
    await until(lambda: kit.service.cancelled_tasks == [("mj", "T-1")], "the upstream task to be cancelled")
    await until(lambda: engine.job(job.id) is None, "the cancelled job to be let go")
    row = await kit.row(job.id)
    assert (row["status"], row["cancelled_by"], row["finished_at"]) == (
        JobStatus.CANCELLED.value,
        1,
        NOON + 3,
    )


async def test_cancelling_a_running_job_frees_its_slot_for_the_next(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    who = member(1)
    first = await kit.submit(engine, "first", who)
    await kit.submit(engine, "second", member(2))
    run = await kit.service.started("first")
    engine.cancel(first.id, who)
    await kit.sink.wait_for("cancelled", first.id)
    await kit.service.started("second")
    assert run.cancelled and kit.service.cancelled_tasks == []  # no upstream task to cancel


async def test_cancelling_a_waiting_job_takes_it_out_of_the_queue(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    first = await kit.submit(engine, "first", member(1))
    who = member(2)
    second = await kit.submit(engine, "second", who)
    engine.cancel(second.id, who)
    assert second.id not in engine.board.queue
    await kit.sink.wait_for("cancelled", second.id)
    (await kit.service.started("first")).succeed()
    await kit.sink.wait_for("deliver", first.id)
    await until(lambda: engine.job(first.id) is None, "the first job to be let go")
    assert kit.service.runs_of("second") == [] and engine.board.running == 0
    assert await kit.status_of(second.id) == JobStatus.CANCELLED.value


async def test_a_job_cancelled_before_its_run_took_a_step_is_ended_and_its_slot_freed(kit: Kit) -> None:
    engine = kit.engine()
    who = member(1)
    job = await kit.submit(engine, "quick cancel", who)
    # Its task exists but has not run yet: the cancellation lands before its first step.
    assert kit.active(engine, job.id).phase is Phase.RUNNING
    engine.cancel(job.id, who)
    await kit.sink.wait_for("cancelled", job.id)
    await until(lambda: engine.job(job.id) is None, "the cancelled job to be let go")
    assert kit.service.runs == [] and slots_free(engine)
    assert await kit.status_of(job.id) == JobStatus.CANCELLED.value


async def test_cancelling_while_the_pictures_are_fetched_ends_the_job_once_they_are_in(kit: Kit) -> None:
    engine = kit.engine()
    kit.service.load_gate = asyncio.Event()
    who = member(1)
    submitting = asyncio.create_task(kit.submit(engine, "edit", who, sources=sources(1)))
    await until(lambda: kit.service.loads, "the pictures to be fetched")
    (active,) = engine.board.active.values()
    assert active.phase is Phase.PREPARING
    engine.cancel(active.job.id, who)
    kit.service.load_gate.set()
    await submitting
    await kit.sink.wait_for("cancelled", active.job.id)
    assert kit.service.runs == []
    assert await kit.status_of(active.job.id) == JobStatus.CANCELLED.value
    assert not kit.files.folder(active.job.id).exists()


async def test_only_the_requester_or_a_moderator_may_cancel(kit: Kit) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "mine", member(1))
    with pytest.raises(NotYourJob):
        engine.cancel(job.id, member(2))
    assert job.cancelled_by is None
    engine.cancel(job.id, member(3, moderator=True))
    await kit.sink.wait_for("cancelled", job.id)
    await until(lambda: engine.job(job.id) is None, "the cancelled job to be let go")
    assert (await kit.row(job.id))["cancelled_by"] == 3


async def test_a_job_that_is_over_or_ending_cannot_be_cancelled(kit: Kit) -> None:
    engine = kit.engine()
    who = member(1)
    with pytest.raises(JobAlreadyOver):
        engine.cancel(999, who)
    cancelled = await kit.submit(engine, "cancelled", who)
    engine.cancel(cancelled.id, who)
    with pytest.raises(JobAlreadyOver):
        engine.cancel(cancelled.id, who)  # a second press
    kit.sink.holds["deliver"] = asyncio.Event()
    delivering = await kit.submit(engine, "delivering", who)
    (await kit.service.started("delivering")).succeed()
    await kit.sink.wait_for("deliver", delivering.id)
    with pytest.raises(JobAlreadyOver):
        engine.cancel(delivering.id, who)  # being posted: nothing may interrupt it
    kit.sink.holds["deliver"].set()
    await until(lambda: engine.job(delivering.id) is None, "the delivered job to be let go")
    with pytest.raises(JobAlreadyOver):
        engine.cancel(delivering.id, who)
    assert await kit.status_of(delivering.id) == JobStatus.DONE.value


@pytest.mark.parametrize("kind", ["deliver", "fail", "cancelled"])
async def test_a_sink_that_raises_is_logged_and_recorded_and_the_engine_goes_on(
    kit: Kit, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    kit.sink.raises[kind] = RuntimeError("Missing Permissions")
    who = member(1)
    job = await kit.submit(engine, "first", who)
    run = await kit.service.started("first")
    with caplog.at_level(logging.WARNING, logger="bot.jobs.runner"):
        if kind == "deliver":
            run.succeed()
        elif kind == "fail":
            run.fail(ContentBlocked("blocked"))
        else:
            engine.cancel(job.id, who)
        await kit.sink.wait_for(kind, job.id)
        await until(lambda: engine.job(job.id) is None, "the job to be let go")
    row = await kit.row(job.id)
    assert row["delivery_error"] == "RuntimeError: Missing Permissions" and row["delivered_at"] is None
    assert "Missing Permissions" in caplog.text
    del kit.sink.raises[kind]
    after = await kit.submit(engine, "after", who)
    (await kit.service.started("after")).succeed()
    await kit.sink.wait_for("deliver", after.id)
    await until(lambda: engine.job(after.id) is None, "the next job to be let go")
    assert (await kit.row(after.id))["delivered_at"] == NOON


async def test_unusable_pictures_fail_the_job_in_submit(kit: Kit) -> None:
    engine = kit.engine()
    kit.service.load_error = UnusableImage(name="p0.png", reason_key="x")
    who = member(1)
    job = await engine.accept(request("edit", sources=sources(1)), origin(who), who)
    with pytest.raises(UnusableImage):
        await engine.submit(job)
    row = await kit.row(job.id)
    assert (row["status"], row["error"]) == (JobStatus.FAILED.value, "UnusableImage")
    assert engine.job(job.id) is None and kit.service.runs == [] and kit.sink.calls == []


@pytest.mark.parametrize("fails", [False, True])
async def test_pictures_that_arrive_while_stopping_leave_the_job_queued_in_the_journal(
    kit: Kit, fails: bool
) -> None:
    engine = kit.engine()
    kit.service.load_gate = asyncio.Event()
    submitting = asyncio.create_task(kit.submit(engine, "edit", sources=sources(1)))
    await until(lambda: kit.service.loads, "the pictures to be fetched")
    (active,) = engine.board.active.values()
    await engine.drain()
    if fails:
        kit.service.load_error = OSError("session closed")
    kit.service.load_gate.set()
    if fails:
        with pytest.raises(OSError, match="session closed"):
            await submitting
    else:
        await submitting
    assert engine.job(active.job.id) is None and kit.service.runs == []
    assert await kit.status_of(active.job.id) == JobStatus.QUEUED.value


async def test_the_intake_fetches_two_at_a_time_and_a_big_download_alone(kit: Kit) -> None:
    engine = kit.engine(max_jobs_per_user=10, max_concurrent_jobs=4)
    kit.service.load_gate = asyncio.Event()
    tasks = [asyncio.create_task(kit.submit(engine, f"small{i}", sources=sources(1))) for i in range(3)]
    await until(lambda: len(engine.board.active) == 3, "three jobs to be journaled")
    assert len(kit.service.loads) == 2
    kit.service.load_gate.set()
    await asyncio.gather(*tasks)

    kit.service.load_gate = asyncio.Event()
    kit.service.loads.clear()
    huge = (SourceImage("big.jpg", "https://cdn.example/big.jpg", "image/jpeg", BIG_INTAKE_BYTES + 1),)
    big = asyncio.create_task(kit.submit(engine, "big", sources=huge))
    await until(lambda: kit.service.loads, "the big download to start")
    small = asyncio.create_task(kit.submit(engine, "small", sources=sources(1)))
    await until(lambda: len(engine.board.active) == 5, "the small job to be journaled")
    assert [p.request.prompt for p in kit.service.loads] == ["big"]
    kit.service.load_gate.set()
    await asyncio.gather(big, small)
    assert len(kit.service.loads) == 2


async def test_status_counts_running_and_waiting_jobs_and_the_days_model_stats(kit: Kit) -> None:
    engine = kit.engine(max_concurrent_jobs=1, max_jobs_per_user=10)
    done = await kit.submit(engine, "done")
    failed = await kit.submit(engine, "failed")
    kit.clock.advance(10)
    (await kit.service.started("done")).succeed()
    await kit.sink.wait_for("deliver", done.id)
    (await kit.service.started("failed")).fail(RuntimeError("boom"))
    await kit.sink.wait_for("fail", failed.id)
    await kit.submit(engine, "running", model="gpt")
    await kit.submit(engine, "waiting", model="gpt")
    await kit.service.started("running")
    status = await engine.status()
    assert (status.running, status.queued, status.slots, status.accepting) == (1, 1, 1, True)
    assert status.models == (ModelStats("gem", 1, 1, 10.0),)
    kit.clock.advance(86400.5)  # the stats cover a day
    assert (await engine.status()).models == ()


def test_jobs_know_their_status_is_final() -> None:
    assert [s.finished for s in JobStatus] == [False, False, True, True, True]
