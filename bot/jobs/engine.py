"""The job engine: admits requests, journals them, runs them in fair turns, times them, and hands
each result (or its one clear error) to a sink that shows it to the member.

This module only joins the parts, each one job in its own module: `admission` (access, room and
limits), `intake` (members' pictures), `runner` (slots, the run, its ending), `progress` (what the
member sees meanwhile) and `lifecycle` (restart and drain), all on one shared `state.Board`. The sink
is the Discord side; the engine itself knows only plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.config import Settings
from bot.errors import BotError, BudgetReached, StorageFailed, StoreUnavailable
from bot.jobqueue import JobQueue
from bot.jobs.access import Member
from bot.jobs.admission import Admission, Usage
from bot.jobs.budgets import month_of
from bot.jobs.files import JobFiles
from bot.jobs.handoff import Handoff
from bot.jobs.intake import Intake
from bot.jobs.lifecycle import Lifecycle
from bot.jobs.model import Job, JobStatus, Origin
from bot.jobs.progress import ProgressShow
from bot.jobs.runner import Runner
from bot.jobs.shared import SharedJournal
from bot.jobs.state import Active, Board, JobSink, Phase
from bot.jobs.store import JobStore, ModelStats
from bot.jobs.worker_runs import WorkerRuns
from bot.notices import Notice, NoticeKind, OwnerNotices
from bot.request import Derivation, GenerateRequest, Kind, Parent
from bot.service import ImageService

log = logging.getLogger(__name__)

STATS_WINDOW = 86400.0
HISTORY_PAGE = 8


@dataclass(frozen=True)
class HistoryPage:
    """One page of a member's recent results (those whose pictures are still kept)."""

    jobs: tuple[Job, ...]
    page: int
    pages: int


@dataclass(frozen=True)
class EngineStatus:
    running: int
    queued: int
    slots: int
    accepting: bool
    models: tuple[ModelStats, ...]
    month_spend: float = 0.0  # every server's, this UTC month, in the owner's unit


class JobEngine:
    # Discord rate-limits edits of one message; every couple of seconds reads as live.
    progress_every = 2.0
    janitor_every = 3600.0

    def __init__(
        self,
        settings: Settings,
        service: ImageService,
        store: JobStore,
        files: JobFiles,
        *,
        clock: Callable[[], float] = time.time,
        notices: OwnerNotices | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.files = files
        self.clock = clock
        # The parts read the clock through the engine, so a test may swap it on a running engine.
        self.board = Board(settings, service, store, files, now=lambda: self.clock(), notices=notices)
        self.admission = Admission(self.board)
        self.intake = Intake(self.board)
        self.runner = Runner(self.board, self.intake)
        self.progress = ProgressShow(self.board, every=lambda: self.progress_every)
        self.lifecycle = Lifecycle(self.board, self.runner, self.progress)
        self._admit_lock = asyncio.Lock()
        self._loops: list[asyncio.Task[None]] = []
        # Gateway and worker processes (bot/jobs/handoff.py, bot/jobs/worker_runs.py); neither in
        # one process, which runs its jobs itself.
        self.handoff: Handoff | None = None
        self.worker: WorkerRuns | None = None
        self._journal: SharedJournal | None = None
        self._owns: Callable[[Job], bool] | None = None

    def run_in_workers(
        self, journal: SharedJournal, queue: JobQueue, owns: Callable[[Job], bool] | None = None
    ) -> Handoff:
        """Be a gateway: jobs are accepted and wait here, and run in worker processes. `owns` says
        which journaled jobs are this gateway's to resume (its shards')."""
        self._journal, self._owns = journal, owns
        self.handoff = Handoff(self.board, journal, queue)
        self.board.remote = self.handoff
        return self.handoff

    def serve_queue(self, journal: SharedJournal, concurrency: int) -> WorkerRuns:
        """Be a worker: run the jobs the queue hands over, up to `concurrency` at once."""
        self._journal = journal
        self.worker = WorkerRuns(self.board, self.runner, self.lifecycle, self.progress, journal, concurrency)
        return self.worker

    @property
    def sink(self) -> JobSink | None:
        return self.board.sink

    @sink.setter
    def sink(self, sink: JobSink | None) -> None:
        self.board.sink = sink

    @property
    def accepting(self) -> bool:
        return self.board.accepting

    # --- taking requests ----------------------------------------------------------------------

    async def accept(self, request: GenerateRequest, origin: Origin, member: Member) -> Job:
        """Check a request, the queue and the member's limits, and hold a place for it.

        It runs before the interaction is deferred, so refusals are private, and the job is in the
        journal before the member is told it was accepted: a crash right after the defer loses
        nothing. The journal write of a burst of commands is one commit. `submit` then fetches the
        pictures and queues the job.
        """
        exempt = self.admission.check_access(member)
        if self.handoff is not None and not self.handoff.queue_ok:
            raise StoreUnavailable("the queue to the workers does not answer")
        plan = self.service.plan_request(request)
        units = plan.request.count if plan.request.kind is not Kind.ACTION else 1
        estimate = self.service.estimate(plan)
        async with self._admit_lock:
            self.admission.check_twice(member, plan.request)
            self.admission.check_room(member, exempt)
            if not exempt:
                # Admins are never refused, but what they spend counts in the server's totals.
                try:
                    await self.admission.check_limits(member, units, estimate)
                except BudgetReached as refused:
                    self._budget_reached(refused, member)
                    raise
            job = Job(0, plan.request, origin, units, plan.notes, created_at=self.clock(), estimate=estimate)
            active = Active(job, plan.route.format)
            self.board.pending[id(job)] = active
        try:
            await self.store.add(job)
        except StoreUnavailable:
            raise  # the shared journal is away for a moment: "try again in a minute"
        except Exception as exc:
            log.error("Job for user %d could not be journaled", origin.user_id, exc_info=exc)
            raise StorageFailed(f"{type(exc).__name__}: {exc}") from exc
        finally:
            del self.board.pending[id(job)]
        # Journaled: from here on the journal counts it for the limits, and a restart resumes it.
        self.board.active[job.id] = active
        return job

    def _budget_reached(self, refused: BudgetReached, member: Member) -> None:
        whose = member.guild_id if refused.scope == "guild_month" else member.user_id
        self.board.tell_owner(
            Notice(
                NoticeKind.BUDGET_REACHED,
                f"{refused.scope}:{whose}",
                {"scope_key": f"owner.scope_{refused.scope}", "who": whose, **refused.params},
            )
        )

    async def submit(self, job: Job, *, message_id: int | None = None) -> None:
        """Prepare an accepted job's pictures and queue it; raise (and end the job) if they are
        unusable. `message_id` is the command's message, when the defer's answer named it."""
        board = self.board
        active = board.active[job.id]
        if message_id is not None:
            with contextlib.suppress(Exception):  # a courtesy for late replies; never fails the job
                await self.store.update(job, message_id=message_id)
        log.debug(
            "Job %d accepted: %s on %s for user %d", job.id, job.request.kind, job.model, job.origin.user_id
        )
        if job.request.takes_pictures:
            try:
                await self.intake.prepare(active)
            except Exception as exc:
                if not board.accepting:
                    # The bot is stopping (its HTTP session may be closing): the journal keeps the
                    # job queued and the next start fetches the pictures again.
                    board.forget(active)
                    raise
                await self.runner.end(active, JobStatus.FAILED, error=type(exc).__name__)
                if isinstance(exc, BotError):
                    raise
                # The pictures could not be kept (a full disk): one clear answer, the cause logged.
                log.error("Job %d: its pictures could not be kept", job.id, exc_info=exc)
                raise StorageFailed(f"job {job.id}: {type(exc).__name__}: {exc}") from exc
        if active.stop == "cancel":
            active.phase = Phase.DELIVERING
            await self.runner.cancelled(active)
            return
        if not board.accepting:
            board.forget(active)
            return  # the journal has it; the next start runs it
        self.runner.enqueue(active)

    async def abandon(self, job: Job) -> None:
        """The member never saw the job accepted (the interaction could not be answered): it ends
        here, counting for no limit."""
        active = self.board.active.get(job.id)
        if active is not None:
            await self.runner.end(active, JobStatus.FAILED, error="NotAnswered")

    async def result_of(self, job_id: int) -> Job:
        """A finished job whose pictures its buttons may still work on; PictureGone past retention."""
        job = await self.store.get(job_id)
        if job is None or not self.lifecycle.kept(job):
            raise self.board.picture_gone(f"job {job_id}")
        return job

    async def requester(self, job_id: int) -> int | None:
        """Who asked for a job (the member who may delete its result)."""
        job = self.job(job_id) or await self.store.get(job_id)
        return job.origin.user_id if job is not None else None

    async def for_message(self, message_id: int) -> Job | None:
        """The job whose result a message shows, while its pictures are kept (replies, menus)."""
        job = await self.store.for_message(message_id)
        return job if job is not None and self.lifecycle.kept(job) else None

    async def pick(self, parent: Job, index: int, origin: Origin, member: Member) -> Job:
        """One picture of a set, alone on its own card with its own buttons; no API call."""
        self.admission.check_access(member)
        request = replace(parent.request, count=1, parent=Parent(parent.id, index, Derivation.PICK))
        job = Job(0, request, origin, 0, parent.notes, created_at=self.clock())
        return await self.lifecycle.copy_result(parent, index, job)

    def cancel(self, job_id: int, member: Member) -> Job:
        """Cancel a job for its requester or a moderator; answered at once, shown in the background."""
        return self.runner.cancel(job_id, member)

    # --- start and stop -----------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up every job the journal holds open, then run the queue and its clocks."""
        if self.worker is not None:
            await self.worker.start()  # a worker resumes nothing: the gateways hand out the jobs
        else:
            journal = self._journal
            await self.lifecycle.resume(self._owns, journal.dispatched if journal is not None else None)
            if self.handoff is not None:
                await self.handoff.start()
        self._loops = [
            asyncio.create_task(self.progress.tick(), name="jobs-progress"),
            asyncio.create_task(self.lifecycle.janitor(self.janitor_every), name="jobs-janitor"),
        ]

    async def drain(self) -> None:
        """Stop taking jobs, let running ones finish for SHUTDOWN_GRACE seconds, and leave the rest
        in the journal for the next start. Safe to call more than once."""
        await self.lifecycle.drain(self._loops)
        if self.handoff is not None:
            await self.handoff.stop()
        if self.worker is not None:
            await self.worker.stop()

    async def clean_files(self) -> int:
        return await self.lifecycle.clean_files()

    # --- what members and owners can ask ---------------------------------------------------

    def job(self, job_id: int) -> Job | None:
        active: Active | None = self.board.active.get(job_id)
        return active.job if active else None

    async def history(self, user_id: int, page: int, per_page: int = HISTORY_PAGE) -> HistoryPage:
        """A member's results, newest first, from the journal; only those still within retention."""
        since = self.clock() - self.settings.result_retention_hours * 3600
        jobs, total = await self.store.finished_for(user_id, since, per_page, page * per_page)
        pages = max(1, -(-total // per_page))
        return HistoryPage(tuple(jobs), min(page, pages - 1), pages)

    async def usage(self, member: Member, *, with_guild: bool) -> Usage:
        return await self.admission.usage(member, with_guild=with_guild)

    def load(self) -> tuple[int, int]:
        """Jobs waiting (or having their pictures fetched) and jobs running, now; no journal read."""
        board = self.board
        waiting = sum(1 for a in board.active.values() if a.phase in (Phase.PREPARING, Phase.WAITING))
        return waiting, board.running

    async def status(self) -> EngineStatus:
        board = self.board
        stats = await self.store.model_stats(self.clock() - STATS_WINDOW)
        waiting, _ = self.load()
        return EngineStatus(
            board.running,
            waiting,
            self.settings.max_concurrent_jobs,
            board.accepting,
            tuple(stats),
            month_spend=await self.store.spent_since(month_of(self.clock()).start),
        )
