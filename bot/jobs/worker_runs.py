"""A worker process's side of the run: each queue entry names a journaled job, which the worker runs
with the engine's own runner (the same call, time limit, progress, result and endings as one process)
while it holds the job's lease; then it lets the job go, or gives it back when it is stopping.

What the journal says decides, not the entry: a job already ended is not run again, one cancelled
meanwhile is ended as cancelled, one done but not posted is only posted, a Midjourney task resumes
polling by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.errors import BotError, JobAlreadyOver
from bot.jobs.access import Member
from bot.jobs.lifecycle import Lifecycle
from bot.jobs.model import Job, JobStatus
from bot.jobs.progress import ProgressShow
from bot.jobs.runner import Runner
from bot.jobs.shared import SharedJournal, worker_name
from bot.jobs.state import Active, Board, Phase, ProgressView

log = logging.getLogger(__name__)

# How often a worker looks for cancels of the jobs it runs in the journal (the queue's abort is
# faster; this catches one the queue lost).
CANCELS_EVERY = 1.0


class WorkerRuns:
    def __init__(
        self,
        board: Board,
        runner: Runner,
        lifecycle: Lifecycle,
        progress: ProgressShow,
        journal: SharedJournal,
        concurrency: int,
    ) -> None:
        self.board = board
        self.runner = runner
        self.lifecycle = lifecycle
        self.progress = progress
        self.journal = journal
        self.concurrency = concurrency
        self.id = worker_name()
        self._loops: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[None]] = set()  # entries under way, which a stop waits for
        self._running: dict[int, asyncio.Task[None]] = {}  # the same, by job
        # An entry's signal that its job's result is being posted: the entry may end.
        self._posting: dict[int, asyncio.Event] = {}
        board.claim_delivery = self._claim_delivery

    async def start(self) -> None:
        await self.journal.beat(self.id, self.concurrency, 0)
        self._loops = [
            asyncio.create_task(self._beats(), name="worker-heartbeat"),
            asyncio.create_task(self._cancels(), name="worker-cancels"),
        ]
        log.info("Worker %s takes up to %d jobs at once", self.id, self.concurrency)

    async def stop(self) -> None:
        """After the drain: the entries under way finish giving back or letting go of their jobs."""
        if self._runs:
            await asyncio.wait(list(self._runs), timeout=30)
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        await self.journal.leave(self.id)

    # --- one entry ---------------------------------------------------------------------------

    async def run(self, job_id: int) -> None:
        """Run one queue entry's job; returns once the job is let go or given back, or once its
        result is being posted: posting holds no slot (as in one process), so the queue hands this
        worker its next entry meanwhile and the next upstream call does not wait for the upload.

        The entry's work (the lease, the run, posting, letting go) is a task of its own, which the
        queue's cancels never cut in the middle and a stop waits for. An abort (a member's Cancel,
        journaled first) cancels the job; the queue stopping because the worker stops leaves the
        job to the engine's drain, which lets it finish for SHUTDOWN_GRACE seconds and gives it
        back after that (the queue hands the entry out again meanwhile; the next worker waits on
        the lease)."""
        if job_id in self._running:
            # The same job's entry again while this worker runs it (the queue's sweep can hand out
            # an entry being taken, and the gateways' sweep can put back one about to end): the
            # lease would say "mine" and run it twice. The run under way goes on.
            log.info("Job %d is already running in this worker; its second queue entry ends", job_id)
            return
        inner = asyncio.create_task(self._entry(job_id), name=f"entry-{job_id}")
        self._runs.add(inner)
        self._running[job_id] = inner
        inner.add_done_callback(self._runs.discard)
        inner.add_done_callback(lambda _: self._running.pop(job_id, None))
        posting = self._posting[job_id] = asyncio.Event()
        posted = asyncio.create_task(posting.wait(), name=f"posting-{job_id}")
        try:
            # asyncio.wait, unlike awaiting the task, never cancels it when this is cancelled.
            await asyncio.wait([inner, posted], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            active = self.board.active.get(job_id)
            if not inner.done() and active is not None:
                self.board.spawn(self._cancel_if_asked(active))
            raise
        finally:
            posted.cancel()
            if self._posting.get(job_id) is posting:
                del self._posting[job_id]
        if inner.done():
            await inner  # its error, if any, is the entry's
        else:
            inner.add_done_callback(_log_failure)

    async def _entry(self, job_id: int) -> None:
        lease = await self.journal.lease(job_id, self.id)
        while lease == "held":
            # Another live worker runs it (an entry handed out twice), or one that died and whose
            # heartbeat is not yet old: wait for it to end, or to be found dead.
            await asyncio.sleep(self.journal.heartbeat / 3)
            lease = await self.journal.lease(job_id, self.id)
        if lease != "mine":
            return
        handed_back = False
        try:
            job = await self.board.store.get(job_id)
            if job is not None:
                handed_back = await self._run(job)
        finally:
            self.board.active.pop(job_id, None)
            if handed_back:
                await self.journal.hand_back(job_id, self.id)
            else:
                await self.journal.release(job_id, self.id)

    async def _run(self, job: Job) -> bool:
        """Take the job as the journal has it; True when it must be given back unfinished."""
        board = self.board
        if job.status is JobStatus.DONE:
            if job.delivered_at is None and job.delivery_error is None:
                await self._redeliver(job)
            return False
        if job.status.finished:
            return False
        try:
            route, _ = board.service.route(job.model)
        except BotError as exc:
            active = Active(job, "", phase=Phase.DELIVERING)
            board.active[job.id] = active
            await self.runner.failed(active, exc)
            return False
        active = Active(job, route.format)
        board.active[job.id] = active
        if job.cancelled_by is not None:
            active.phase = Phase.DELIVERING
            await self.runner.cancelled(active)
            return False
        active.phase = Phase.RUNNING
        active.started = time.monotonic()
        active.holds_slot = True
        board.running += 1
        self.runner.launch(active)
        assert active.task is not None
        await asyncio.wait([active.task])  # ended by its run, a cancel, or the drain
        if active.stop == "shutdown":
            with contextlib.suppress(Exception):
                await self.progress.send(active, ProgressView(JobStatus.QUEUED, restarting=True))
            return True
        return False

    async def _cancel_if_asked(self, active: Active) -> None:
        with contextlib.suppress(Exception):
            by = (await self.journal.cancelled_by([active.job.id])).get(active.job.id)
            if by is not None:
                self._cancel(active, by)

    def _cancel(self, active: Active, by: int) -> None:
        job = active.job
        with contextlib.suppress(JobAlreadyOver):
            # The gateway checked who may cancel; here the journal's word is enough.
            self.runner.cancel(job.id, Member(by, job.origin.guild_id, (), is_moderator=True))

    async def _redeliver(self, job: Job) -> None:
        active = Active(job, "", phase=Phase.DELIVERING)
        self.board.active[job.id] = active
        await self.lifecycle.redeliver(active)

    async def _claim_delivery(self, job: Job) -> bool:
        """Claim the posting of a job whose picture is made and journaled: from here it holds no
        slot (the journal counts only open jobs), so its entry ends and the gateways look again."""
        if not await self.journal.claim_delivery(job.id, self.id):
            return False
        posting = self._posting.get(job.id)
        if posting is not None:
            posting.set()
        await self.journal.notify()
        return True

    # --- clocks -------------------------------------------------------------------------------

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self.journal.heartbeat / 3)
            try:
                await self.journal.beat(self.id, self.concurrency, self.board.running)
            except Exception as exc:  # the database away: the next beat tries again
                log.warning("Worker heartbeat not recorded (%s: %s)", type(exc).__name__, exc)

    async def _cancels(self) -> None:
        while True:
            await asyncio.sleep(CANCELS_EVERY)
            running = {
                job_id: a
                for job_id, a in self.board.active.items()
                if a.phase is Phase.RUNNING and a.task is not None and not a.stop
            }
            if not running:
                continue
            try:
                cancelled = await self.journal.cancelled_by(running)
            except Exception:  # noqa: S112 - the database away: look again in a second
                continue
            for job_id, by in cancelled.items():
                self._cancel(running[job_id], by)


def _log_failure(task: asyncio.Task[None]) -> None:
    # An entry that ended early (its result being posted) has nobody awaiting its task.
    if not task.cancelled() and task.exception() is not None:
        log.error("A job's posting or letting go failed", exc_info=task.exception())
