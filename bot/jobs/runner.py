"""The run of a job: a slot in fair turns, the API call under its time limit, and exactly one ending
(done, failed or cancelled) journaled and shown to the member."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from bot.errors import (
    BotError,
    JobAlreadyOver,
    JobTimedOut,
    NotYourJob,
    StorageFailed,
    StoreUnavailable,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamModelNotFound,
)
from bot.jobs.access import Member
from bot.jobs.intake import Intake
from bot.jobs.model import Job, JobStatus
from bot.jobs.queue import Entry
from bot.jobs.state import Active, Board, JobSink, Phase
from bot.jobs.store import StoredResult
from bot.log_format import CURRENT_JOB
from bot.metrics import METRICS
from bot.notices import Notice, NoticeKind
from bot.providers.base import Progress
from bot.service import Delivery, Lineage, Plan

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, board: Board, intake: Intake) -> None:
        self.board = board
        self.intake = intake

    # --- slots and turns --------------------------------------------------------------------

    def enqueue(self, active: Active) -> None:
        # A waiting job's place shows on the next progress tick: a burst of commands is deferred
        # first, and each place is worked out once per tick for the whole queue.
        active.phase = Phase.WAITING
        self.board.queue.push(Entry(active.job.id, active.job.origin.user_id, active.keys))
        self.dispatch()

    def dispatch(self) -> None:
        board = self.board
        if not board.accepting:
            return
        if board.remote is not None:
            board.remote.kick()  # a gateway: the workers run it, when the whole bot has room
            return
        while board.running < board.settings.max_concurrent_jobs:
            entry = board.queue.pop(self._fits)
            if entry is None:
                return
            active = board.active[entry.job_id]
            board.running += 1
            board.running_keys.update(active.keys)
            active.holds_slot = True
            active.phase = Phase.RUNNING
            active.started = time.monotonic()
            self.launch(active)

    def launch(self, active: Active) -> None:
        """Start the run of a job that holds a slot (a worker process calls this per entry)."""
        active.task = asyncio.create_task(self._execute(active), name=f"job-{active.job.id}")
        active.task.add_done_callback(functools.partial(self._task_done, active))

    def _fits(self, entry: Entry) -> bool:
        caps = self.board.settings.concurrency_limits
        return all(self.board.running_keys[key] < caps[key] for key in entry.keys if key in caps)

    def _release(self, active: Active) -> None:
        if active.holds_slot:
            active.holds_slot = False
            self.board.running -= 1
            self.board.running_keys.subtract(active.keys)
            self.dispatch()

    # --- the run ----------------------------------------------------------------------------

    async def _execute(self, active: Active) -> None:
        job = active.job
        CURRENT_JOB.set(job.id)  # this task's log lines name the job (LOG_FORMAT=json)
        try:
            await self._start(job)
            delivery = await self._generate(active)
        except asyncio.CancelledError:
            self._release(active)
            if active.stop != "cancel":
                raise  # shutting down: the journal keeps the job for the next start
            # From here on nothing may interrupt the ending, neither a second press nor a stop.
            active.phase = Phase.DELIVERING
            await self.cancelled(active)
        except Exception as exc:
            active.phase = Phase.DELIVERING
            self._release(active)
            await self.failed(active, exc)
        else:
            active.phase = Phase.DELIVERING
            self._release(active)
            try:
                await self._keep(active, delivery)
            except Exception as exc:
                # The picture was made but cannot be kept (a full disk, or the shared journal away
                # for longer than its writes wait): the member hears it now.
                log.error("Job %d: its result could not be kept", job.id, exc_info=exc)
                await self.failed(active, _storage_error(job, exc))
                return
            await self.deliver(active, delivery)

    async def _start(self, job: Job) -> None:
        try:
            await self.board.store.update(job, status=JobStatus.RUNNING, started_at=self.board.now())
        except Exception as exc:
            log.error("Job %d: the journal could not record its start", job.id, exc_info=exc)
            raise _storage_error(job, exc) from exc

    def _task_done(self, active: Active, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs its own handlers (Python throws the
        # cancellation in before the `try`): free its slot and end it here.
        if not task.cancelled() or not active.holds_slot:
            return
        self._release(active)
        if active.stop == "cancel":
            active.phase = Phase.DELIVERING
            self.board.spawn(self.cancelled(active))

    async def _generate(self, active: Active) -> Delivery:
        active.timing = self.board.service.timing(active.job.model)
        limit = active.timing.seconds
        try:
            async with asyncio.timeout(limit) as deadline:
                active.deadline = deadline
                return await self._work(active)
        except TimeoutError:
            if active.deadline is not None and active.deadline.expired():
                raise JobTimedOut(f"job {active.job.id}", seconds=str(round(limit))) from None
            raise

    async def _work(self, active: Active) -> Delivery:
        job, service = active.job, self.board.service
        progress = functools.partial(self._on_progress, active)
        limit = job.origin.upload_limit
        images = await self.intake.images_for(active)
        route, _ = service.route(job.model)
        plan = Plan(job.request.with_images(images).with_history(active.history), route, job.notes)
        if job.upstream_task:
            return await service.resume(plan, job.upstream_task, max_file_bytes=limit, progress=progress)
        return await service.run(plan, max_file_bytes=limit, progress=progress)

    async def _on_progress(self, active: Active, progress: Progress) -> None:
        active.percent = progress.percent if progress.percent is not None else active.percent
        if progress.preview_url and progress.preview_url != active.preview_url:
            active.preview_url = progress.preview_url
            self.board.spawn(self._fetch_preview(active, progress.preview_url))
        if progress.task_id and progress.task_id != active.job.upstream_task:
            await self.board.store.update(active.job, upstream_task=progress.task_id)
        timing = active.timing
        if active.deadline is not None and timing is not None and timing.restarts_on_progress:
            # A slow task queue that still moves is not cut off: the clock restarts.
            loop = asyncio.get_running_loop()
            active.deadline.reschedule(loop.time() + timing.seconds)

    async def _fetch_preview(self, active: Active, url: str) -> None:
        data = await self.board.service.preview(url)
        if data is not None and active.preview_url == url:
            active.preview = data

    # --- endings ----------------------------------------------------------------------------

    async def _keep(self, active: Active, delivery: Delivery) -> None:
        """Keep a finished job's pictures (for its buttons and a restart) and journal it done."""
        board, job = self.board, active.job
        # The inputs stay beside the results: a reroll sends them again.
        await board.files.save_results(job.id, delivery.images, delivery.originals)
        turns = board.settings.edit_history_turns
        if delivery.conversation and turns:
            await board.files.save_conversation(job.id, delivery.conversation[-turns:])
        cost = delivery.cost.amount if delivery.cost is not None else None
        await board.store.set_result(job, stored_result(delivery), board.now(), cost)
        log.info("Job %d done in %.1f s", job.id, delivery.seconds)
        METRICS.job_ended("done", job.model, delivery.seconds)

    async def deliver(self, active: Active, delivery: Delivery) -> None:
        board, job = self.board, active.job
        sink = board.require_sink()
        active.phase = Phase.DELIVERING
        if board.claim_delivery is not None and not await board.claim_delivery(job):
            log.info("Job %d: another worker posts its result", job.id)
            board.forget(active)
            return
        delivery = replace(delivery, lineage=await self._lineage(job))
        try:
            async with active.message_lock:
                message_id = await sink.deliver(job, delivery)
        except Exception as exc:
            # Nowhere to post (no permission, channel gone): record it rather than retry forever.
            log.warning("Job %d: the result could not be posted (%s: %s)", job.id, type(exc).__name__, exc)
            await self._journal(job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            # The result's message, so a reply to it or a menu on it finds this job again.
            shown = {"message_id": message_id} if message_id else {}
            await self._journal(job, delivered_at=board.now(), **shown)
            METRICS.pictures_delivered(len(delivery.images))
        finally:
            board.forget(active)

    async def _lineage(self, job: Job) -> Lineage | None:
        parent = job.request.parent
        if parent is None:
            return None
        earlier = await self.board.store.get(parent.job_id)
        if earlier is None or earlier.message_id is None:
            return None
        origin = earlier.origin
        return Lineage(parent.how, origin.channel_id, earlier.message_id, origin.guild_id)

    async def failed(self, active: Active, error: Exception) -> None:
        job = active.job
        if isinstance(error, BotError):
            level = logging.WARNING if isinstance(error, UpstreamError) else logging.INFO
            log.log(level, "Job %d ended in %s: %s", job.id, type(error).__name__, error)
        else:
            log.error("Job %d failed unexpectedly", job.id, exc_info=error)
        METRICS.job_ended("failed", job.model)
        await self.end(active, JobStatus.FAILED, forget=False, error=type(error).__name__)
        self._tell_owner(job, error)
        try:
            await self._tell(active, lambda sink: sink.fail(job, error))
        finally:
            self.board.forget(active)  # only now: a stop waits for the member to be told

    def _tell_owner(self, job: Job, error: Exception) -> None:
        """A refused key or a model no longer offered needs the owner, not the member."""
        if isinstance(error, UpstreamAuthFailed):
            self.board.tell_owner(Notice(NoticeKind.KEY_REFUSED, "key", {"model": job.model}))
        elif isinstance(error, UpstreamModelNotFound):
            self.board.tell_owner(Notice(NoticeKind.MODEL_GONE, job.model, {"model": job.model}))

    async def cancelled(self, active: Active) -> None:
        job = active.job
        log.info("Job %d cancelled by user %s", job.id, job.cancelled_by)
        METRICS.job_ended("cancelled", job.model)
        await self.end(active, JobStatus.CANCELLED, forget=False, cancelled_by=job.cancelled_by)
        try:
            await self._tell(active, lambda sink: sink.cancelled(job))
        finally:
            self.board.forget(active)

    async def end(self, active: Active, status: JobStatus, *, forget: bool = True, **fields: Any) -> None:
        """Journal how a job ended and drop its inputs; a failing disk is logged, never raised, so
        the member is still told."""
        board = self.board
        await self._journal(active.job, status=status, finished_at=board.now(), **fields)
        if active.job.request.takes_pictures:
            try:
                await board.files.drop_inputs(active.job.id)
            except OSError as exc:
                log.warning("Job %d: its inputs could not be removed (%s)", active.job.id, exc)
        if forget:
            board.forget(active)

    async def _journal(self, job: Job, **fields: Any) -> None:
        """A journal write after the job's outcome is settled: a failure is logged, and the engine
        goes on (the member's answer matters more than the record of it)."""
        try:
            await self.board.store.update(job, **fields)
        except Exception as exc:
            log.error(
                "Job %d: the journal could not record %s (%s: %s)",
                job.id,
                sorted(fields),
                type(exc).__name__,
                exc,
            )
            # The outcome stands in memory even where the journal missed it.
            for name, value in fields.items():
                setattr(job, name, value)

    async def _tell(self, active: Active, say: Callable[[JobSink], Coroutine[Any, Any, None]]) -> None:
        board = self.board
        active.phase = Phase.DELIVERING
        try:
            async with active.message_lock:
                await say(board.require_sink())
        except Exception as exc:
            log.warning(
                "Job %d: the member could not be told (%s: %s)", active.job.id, type(exc).__name__, exc
            )
            await self._journal(active.job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            await self._journal(active.job, delivered_at=board.now())

    # --- cancelling -------------------------------------------------------------------------

    def cancel(self, job_id: int, member: Member) -> Job:
        """Cancel a job for its requester or a moderator; its slot is freed at once.

        Checks and marks at once (no waiting), so the button press is answered within Discord's
        3 seconds; the job's message is updated in the background.
        """
        board = self.board
        active = board.active.get(job_id)
        if active is None or active.phase is Phase.DELIVERING or active.stop:
            raise JobAlreadyOver(f"job {job_id}")
        job = active.job
        if member.user_id != job.origin.user_id and not member.is_moderator:
            raise NotYourJob(f"job {job_id}")
        job.cancelled_by = member.user_id
        active.stop = "cancel"
        if active.phase is Phase.WAITING:
            board.queue.remove(job_id)
            active.phase = Phase.DELIVERING
            board.spawn(self.cancelled(active))
        elif active.phase is Phase.RUNNING and active.task is not None:
            active.task.cancel()
            if job.upstream_task:
                board.spawn(board.service.cancel_task(job.model, job.upstream_task))
        elif active.phase is Phase.RUNNING and board.remote is not None:
            board.spawn(board.remote.cancel(active))  # a worker runs it: it ends it and says so
        # Still preparing: the engine's `submit` ends it when the pictures are in.
        return job


def _storage_error(job: Job, exc: Exception) -> BotError:
    """What the member reads when the job's pictures or journal could not be written: the shared
    database being away says so ("try again in a minute"); anything else is the disk's sentence."""
    if isinstance(exc, StoreUnavailable):
        return exc
    return StorageFailed(f"job {job.id}: {type(exc).__name__}: {exc}")


def stored_result(delivery: Delivery) -> StoredResult:
    return StoredResult(
        delivery.text,
        tuple((note.key, dict(note.params)) for note in delivery.notes),
        delivery.seconds,
        delivery.task_id,
        tuple((a.label, a.emoji, a.custom_id) for a in delivery.actions),
    )
