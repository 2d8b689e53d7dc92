"""A start picks up what the journal holds open; a stop lets running jobs finish for a while and
leaves the rest for the next start; in between, old pictures are cleaned away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.errors import BotError
from bot.imaging import FittedImage, fit_to_limit_async
from bot.jobs.model import Job, JobStatus
from bot.jobs.progress import ProgressShow
from bot.jobs.queue import Entry
from bot.jobs.runner import Runner, stored_result
from bot.jobs.state import Active, Board, Phase, ProgressView
from bot.jobs.store import StoredResult
from bot.providers.base import Action
from bot.request import Note
from bot.service import Delivery, Plan

log = logging.getLogger(__name__)

# Which of these journal ids workers hold (a gateway's resume).
Dispatched = Callable[[list[int]], Awaitable[set[int]]]


class Lifecycle:
    def __init__(self, board: Board, runner: Runner, progress: ProgressShow) -> None:
        self.board = board
        self.runner = runner
        self.progress = progress
        self._drained: asyncio.Task[None] | None = None

    async def resume(
        self, owns: Callable[[Job], bool] | None = None, dispatched: Dispatched | None = None
    ) -> int:
        """Take every job the journal holds open back into the engine; return how many resume.

        A gateway process takes only the jobs of its shards (`owns`), and those already dispatched
        to workers (`dispatched` tells which) only as held there."""
        board = self.board
        resumed = 0
        jobs = [job for job in await board.store.unfinished() if owns is None or owns(job)]
        remote = await dispatched([job.id for job in jobs]) if dispatched is not None else set()
        for job in jobs:
            if job.id in remote:
                active = Active(job, _format_of(board, job), phase=Phase.RUNNING, holds_slot=True)
                board.active[job.id] = active
                board.running += 1
                resumed += 1
                continue
            try:
                route, _ = board.service.route(job.model)
            except BotError as exc:
                # The owner took the model out of MODELS meanwhile: the member is told why.
                log.warning("Job %d cannot resume: %s", job.id, exc)
                active = Active(job, "", phase=Phase.DELIVERING)
                board.active[job.id] = active
                board.spawn(self.runner.failed(active, exc))
                continue
            active = Active(job, route.format)
            board.active[job.id] = active
            resumed += 1
            if job.status is JobStatus.DONE:
                active.phase = Phase.DELIVERING
                board.spawn(self._redeliver(active))
            else:
                active.phase = Phase.WAITING
                board.queue.push(Entry(job.id, job.origin.user_id, active.keys))
        if resumed:
            log.info("Resuming %d jobs from the journal", resumed)
        self.runner.dispatch()
        places = board.queue.places()
        for active in list(board.active.values()):
            if active.phase is Phase.WAITING:
                self.progress.show(active, places)
        return resumed

    async def redeliver(self, active: Active) -> None:
        await self._redeliver(active)

    async def _redeliver(self, active: Active) -> None:
        """A job finished before a restart but its result was not confirmed posted."""
        board, job = self.board, active.job
        try:
            if await board.require_sink().was_delivered(job):
                log.info("Job %d was already delivered before the restart", job.id)
                await board.store.update(job, delivered_at=board.now())
                board.forget(active)
                return
            images = await board.files.load_results(job.id)
            stored = await board.store.result(job.id)
            if not images or stored is None:
                raise FileNotFoundError(f"the results of job {job.id} are gone")
            delivery = self._restore(job, images, stored)
        except Exception as exc:
            log.warning("Job %d could not be delivered again: %s", job.id, exc)
            await board.store.update(job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
            board.forget(active)
            return
        await self.runner.deliver(active, delivery)

    def _restore(self, job: Job, images: tuple[FittedImage, ...], stored: StoredResult) -> Delivery:
        route, _ = self.board.service.route(job.model)
        return Delivery(
            images,
            stored.text,
            Plan(job.request, route, job.notes),
            stored.seconds,
            tuple(Note(key, params) for key, params in stored.notes),
            task_id=stored.task_id,
            actions=tuple(Action(*action) for action in stored.actions),
        )

    def _in_worker(self, active: Active) -> bool:
        # A gateway's dispatched job: its worker goes on with it and shows it.
        return active.task is None and self.board.remote is not None

    def kept(self, job: Job) -> bool:
        """Whether a job's result is still kept for its buttons (RESULT_RETENTION_HOURS)."""
        board = self.board
        if job.status is not JobStatus.DONE or job.finished_at is None:
            return False
        return board.now() - job.finished_at <= board.settings.result_retention_hours * 3600

    async def copy_result(self, parent: Job, index: int, job: Job) -> Job:
        """Journal `job` as done with one of `parent`'s pictures as its result, and show it."""
        board = self.board
        data = await board.files.load_picture(parent.id, index)
        stored = await board.store.result(parent.id)
        if data is None or stored is None:
            raise board.picture_gone(f"job {parent.id} picture {index}")
        fitted = await fit_to_limit_async(data, job.origin.upload_limit)
        route, _ = board.service.route(job.model)
        await board.store.add(job)
        original = None if fitted.data is data else data
        await board.files.save_results(job.id, (fitted,), (original,))
        delivery = Delivery((fitted,), "", Plan(job.request, route, job.notes), stored.seconds)
        await board.store.set_result(job, stored_result(delivery), board.now())
        active = Active(job, route.format, phase=Phase.DELIVERING)
        board.active[job.id] = active
        await self.runner.deliver(active, delivery)
        return job

    async def janitor(self, every: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.clean_files()
            await asyncio.sleep(every)

    async def clean_files(self) -> int:
        """Remove the pictures of jobs that ended longer ago than RESULT_RETENTION_HOURS."""
        board = self.board
        cutoff = board.now() - board.settings.result_retention_hours * 3600
        removed = 0
        for job_id in await asyncio.to_thread(board.files.stored_ids):
            if job_id in board.active:
                continue
            job = await board.store.get(job_id)
            if job is None or (job.finished_at is not None and job.finished_at < cutoff):
                await board.files.remove(job_id)
                removed += 1
        if removed:
            log.info("Removed the pictures of %d old jobs", removed)
        return removed

    async def drain(self, loops: list[asyncio.Task[None]]) -> None:
        """Stop taking jobs, let running ones finish for SHUTDOWN_GRACE seconds, and leave the rest
        in the journal for the next start. Safe to call more than once."""
        if self._drained is None:
            self._drained = asyncio.create_task(self._drain(loops), name="jobs-drain")
        await asyncio.shield(self._drained)

    async def _drain(self, loops: list[asyncio.Task[None]]) -> None:
        board = self.board
        board.accepting = False
        grace = board.settings.shutdown_grace
        running = [a.task for a in board.active.values() if a.task is not None and not a.task.done()]
        if running:
            log.info("Waiting up to %g s for %d running jobs", grace, len(running))
            await asyncio.wait(running, timeout=max(grace, 0.001))
        interrupted = []
        for active in list(board.active.values()):
            if (
                active.task is not None
                and not active.task.done()
                and active.phase is Phase.RUNNING
                and not active.stop
            ):
                active.stop = "shutdown"
                active.task.cancel()
                interrupted.append(active.task)
        if interrupted:
            log.info("%d jobs stay in the journal to run after the restart", len(interrupted))
            await asyncio.wait(interrupted, timeout=10)
        finishing = [a.task for a in board.active.values() if a.task is not None and not a.task.done()]
        if finishing:
            await asyncio.wait(finishing, timeout=30)
        # Tell the members who wait that their job is kept, not lost.
        waiting = [
            a
            for a in board.active.values()
            if a.phase is Phase.WAITING or (a.phase is Phase.RUNNING and not self._in_worker(a))
        ]
        for active in waiting:
            active.phase = Phase.WAITING
        notices = [
            asyncio.ensure_future(self.progress.send(a, ProgressView(JobStatus.QUEUED, restarting=True)))
            for a in waiting
        ]
        if notices:
            await asyncio.wait(notices, timeout=5)
        for task in loops:
            task.cancel()
        if board.background:
            # Deliveries and notices under way finish, so the journal records what was posted.
            await asyncio.wait(list(board.background), timeout=10)
        for task in board.background:
            task.cancel()


def _format_of(board: Board, job: Job) -> str:
    try:
        route, _ = board.service.route(job.model)
    except BotError:
        return ""
    return route.format
