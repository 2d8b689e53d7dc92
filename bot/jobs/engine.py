"""The job engine: admits requests, journals them, runs them in fair turns, times them, and hands
each result (or its one clear error) to a sink that shows it to the member.

The sink is the Discord side (`cogs.jobs`); the engine itself knows only plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import Settings
from bot.errors import (
    BotError,
    Cooldown,
    DailyLimitReached,
    JobAlreadyOver,
    JobTimedOut,
    NotAllowed,
    NotYourJob,
    QueueFull,
    Restarting,
    UpstreamError,
    UserBusy,
)
from bot.imaging import FittedImage
from bot.jobs.access import Member, is_allowed, is_exempt
from bot.jobs.files import JobFiles
from bot.jobs.model import ACTION, Job, JobSpec, JobStatus, Origin
from bot.jobs.queue import Entry, FairQueue
from bot.jobs.store import JobStore, ModelStats, StoredResult
from bot.providers.base import Action, Kind, Progress
from bot.routing import ApiFormat
from bot.service import Delivery, ImageService, Note, Plan

log = logging.getLogger(__name__)

DAY = 86400.0
# Fetching and preparing members' pictures holds a whole download in memory: a few at a time.
INTAKE_AT_ONCE = 2
BIG_INTAKE_BYTES = 8 * 1024 * 1024
STATS_WINDOW = DAY


class JobSink(Protocol):
    """Where a job's state and outcome are shown; every method may raise, the engine logs it."""

    async def progress(self, job: Job, view: ProgressView) -> int | None:
        """Show where the job stands; return the id of the message that shows it, if known."""

    async def deliver(self, job: Job, delivery: Delivery) -> None: ...

    async def fail(self, job: Job, error: BaseException) -> None: ...

    async def cancelled(self, job: Job) -> None: ...

    async def was_delivered(self, job: Job) -> bool:
        """Whether an earlier run already posted this job's result (before a crash cut it short)."""


@dataclass(frozen=True)
class ProgressView:
    status: JobStatus
    ahead: int = 0
    seconds: int = 0
    percent: int | None = None
    preview_url: str | None = None
    restarting: bool = False


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int
    resets_in: float
    exempt: bool
    cooldown: float
    guild_used: int | None = None
    guild_limit: int = 0
    top: tuple[tuple[int, int], ...] = ()

    @property
    def left(self) -> int | None:
        return None if not self.limit else max(0, self.limit - self.used)


@dataclass(frozen=True)
class EngineStatus:
    running: int
    queued: int
    slots: int
    accepting: bool
    models: tuple[ModelStats, ...]


class _Phase(enum.Enum):
    PREPARING = "preparing"  # accepted; its pictures are being fetched
    WAITING = "waiting"  # in the queue
    RUNNING = "running"  # holds a slot, calling the API
    DELIVERING = "delivering"  # posting the outcome; nothing may interrupt it


@dataclass(eq=False)
class _Active:
    job: Job
    api_format: str
    phase: _Phase = _Phase.PREPARING
    task: asyncio.Task[None] | None = None
    started: float = 0.0
    holds_slot: bool = False
    percent: int | None = None
    preview_url: str | None = None
    deadline: asyncio.Timeout | None = None
    shown: ProgressView | None = None
    message_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stop: str | None = None  # why its task was cancelled: "cancel" or "shutdown"

    @property
    def keys(self) -> tuple[str, ...]:
        # A model named like its format ("midjourney") counts once against the caps.
        return tuple(dict.fromkeys((self.api_format, self.job.model)))


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
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.files = files
        self.clock = clock
        self.sink: JobSink | None = None
        self.accepting = True
        self._queue = FairQueue()
        self._active: dict[int, _Active] = {}
        self._running_keys: Counter[str] = Counter()
        self._running = 0
        self._admit_lock = asyncio.Lock()
        # Accepted but not yet journaled (between the checks and the defer); keyed by id(job).
        self._pending: dict[int, _Active] = {}
        self._intake = asyncio.Semaphore(INTAKE_AT_ONCE)
        self._big_intake = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._drained: asyncio.Task[None] | None = None

    # --- taking requests ----------------------------------------------------------------------

    async def accept(self, spec: JobSpec, origin: Origin, member: Member) -> Job:
        """Check a request, the queue and the member's limits, and hold a place for it.

        Fast (no download, and no database write): it runs before the interaction is deferred, so
        refusals are private and the defer goes out at once. `submit` journals the job.
        """
        if not is_allowed(self.settings, member):
            raise NotAllowed()  # buttons and modals too, which the command tree's check never sees
        model, api_format = self._check(spec)
        units = spec.count if spec.kind != ACTION else 1
        exempt = is_exempt(self.settings, member)
        async with self._admit_lock:
            self._check_room(member, exempt)
            if not exempt:
                await self._check_limits(member, units)
            job = Job(0, spec, origin, model, units, created_at=self.clock())
            self._pending[id(job)] = _Active(job, api_format)
        return job

    async def submit(self, job: Job) -> None:
        """Journal an accepted job, prepare its pictures and queue it; raise (and end the job) if
        they are unusable."""
        active = self._pending[id(job)]
        try:
            await self.store.add(job)
        finally:
            del self._pending[id(job)]
        self._active[job.id] = active
        log.debug(
            "Job %d accepted: %s on %s for user %d", job.id, job.spec.kind, job.model, job.origin.user_id
        )
        if job.spec.sources and job.spec.kind != ACTION:
            try:
                await self._prepare_inputs(job, self._plan(job.spec, job.model))
            except Exception as exc:
                if not self.accepting:
                    # The bot is stopping (its HTTP session may be closing): the journal keeps the
                    # job queued and the next start fetches the pictures again.
                    self._forget(active)
                    raise
                await self._end(active, JobStatus.FAILED, error=type(exc).__name__)
                raise
        if active.stop == "cancel":
            active.phase = _Phase.DELIVERING
            await self._cancelled(active)
            return
        if not self.accepting:
            self._forget(active)
            return  # the journal has it; the next start runs it
        self._enqueue(active)

    def abandon(self, job: Job) -> None:
        """The member never saw the job accepted (the interaction could not be answered)."""
        self._pending.pop(id(job), None)

    def _check(self, spec: JobSpec) -> tuple[str, str]:
        if spec.kind == ACTION:
            route, _ = self.service.route(spec.model)
            return route.name, route.format.value
        plan = self._plan(spec, spec.model)
        return plan.route.name, plan.route.format.value

    def _plan(self, spec: JobSpec, model: str | None, images: tuple[Any, ...] = ()) -> Plan:
        return self.service.plan(
            Kind(spec.kind),
            spec.prompt,
            model=model,
            aspect_ratio=spec.aspect_ratio,
            size=spec.size,
            count=spec.count,
            images=images,
            sources=() if images else spec.sources,
        )

    def _check_room(self, member: Member, exempt: bool) -> None:
        if not self.accepting:
            raise Restarting()
        open_jobs = [
            a for a in (*self._active.values(), *self._pending.values()) if a.phase is not _Phase.DELIVERING
        ]
        mine = sum(1 for a in open_jobs if a.job.origin.user_id == member.user_id)
        if not exempt and mine >= self.settings.max_jobs_per_user:
            raise UserBusy(limit=self.settings.max_jobs_per_user)
        waiting = sum(1 for a in open_jobs if a.phase in (_Phase.PREPARING, _Phase.WAITING))
        free_slots = self.settings.max_concurrent_jobs - self._running
        if waiting - free_slots >= self.settings.max_queue_length:
            raise QueueFull()

    async def _check_limits(self, member: Member, units: int) -> None:
        settings, now = self.settings, self.clock()
        pending = [a.job for a in self._pending.values()]
        if settings.user_cooldown:
            times = [j.created_at for j in pending if j.origin.user_id == member.user_id]
            last = await self.store.last_request(member.user_id)
            last = max([t for t in (last, *times) if t is not None], default=None)
            if last is not None and now - last < settings.user_cooldown:
                raise Cooldown(seconds=str(math.ceil(settings.user_cooldown - (now - last))))
        day_start = now - now % DAY
        hours = duration(day_start + DAY - now)
        if settings.user_daily_limit:
            used = await self.store.units_since(day_start, user_id=member.user_id)
            used += sum(j.units for j in pending if j.origin.user_id == member.user_id)
            if used + units > settings.user_daily_limit:
                raise DailyLimitReached(used=used, limit=settings.user_daily_limit, hours=hours)
        if settings.guild_daily_limit and member.guild_id is not None:
            used = await self.store.units_since(day_start, guild_id=member.guild_id)
            used += sum(j.units for j in pending if j.origin.guild_id == member.guild_id)
            if used + units > settings.guild_daily_limit:
                raise DailyLimitReached(used=used, limit=settings.guild_daily_limit, hours=hours, guild=True)

    async def _prepare_inputs(self, job: Job, plan: Plan) -> Plan:
        # A big download takes the whole intake to itself: two 20 MB photos decoded side by side
        # would double the bot's peak memory for a small gain in speed.
        declared = sum(source.size or 0 for source in job.spec.sources)
        slots = INTAKE_AT_ONCE if declared > BIG_INTAKE_BYTES else 1
        async with self._intake_slots(slots):
            plan = await self.service.load(plan, job.spec.sources)
        await self.files.save_inputs(job.id, plan.request.images)
        return plan

    @contextlib.asynccontextmanager
    async def _intake_slots(self, count: int) -> AsyncIterator[None]:
        # Big intakes take their slots one by one under a lock, so two of them never each hold
        # half of what they need.
        async with self._big_intake if count > 1 else contextlib.nullcontext():
            for _ in range(count):
                await self._intake.acquire()
        try:
            yield
        finally:
            for _ in range(count):
                self._intake.release()

    # --- the queue --------------------------------------------------------------------------

    def _enqueue(self, active: _Active) -> None:
        active.phase = _Phase.WAITING
        self._queue.push(Entry(active.job.id, active.job.origin.user_id, active.keys))
        self._dispatch()
        # A waiting job's place shows on the next progress tick: a burst of commands is deferred
        # first, and each place is worked out once per tick for the whole queue.

    def _dispatch(self) -> None:
        if not self.accepting:
            return
        while self._running < self.settings.max_concurrent_jobs:
            entry = self._queue.pop(self._fits)
            if entry is None:
                return
            active = self._active[entry.job_id]
            self._running += 1
            self._running_keys.update(active.keys)
            active.holds_slot = True
            active.phase = _Phase.RUNNING
            active.started = time.monotonic()
            active.task = asyncio.create_task(self._execute(active), name=f"job-{entry.job_id}")
            active.task.add_done_callback(functools.partial(self._task_done, active))

    def _fits(self, entry: Entry) -> bool:
        caps = self.settings.concurrency_limits
        return all(self._running_keys[key] < caps[key] for key in entry.keys if key in caps)

    def _release(self, active: _Active) -> None:
        if active.holds_slot:
            active.holds_slot = False
            self._running -= 1
            self._running_keys.subtract(active.keys)
            self._dispatch()

    # --- running ----------------------------------------------------------------------------

    async def _execute(self, active: _Active) -> None:
        job = active.job
        try:
            await self.store.update(job, status=JobStatus.RUNNING, started_at=self.clock())
            delivery = await self._generate(active)
        except asyncio.CancelledError:
            self._release(active)
            if active.stop != "cancel":
                raise  # shutting down: the journal keeps the job for the next start
            # From here on nothing may interrupt the ending, neither a second press nor a stop.
            active.phase = _Phase.DELIVERING
            await self._cancelled(active)
        except Exception as exc:
            active.phase = _Phase.DELIVERING
            self._release(active)
            await self._failed(active, exc)
        else:
            active.phase = _Phase.DELIVERING
            self._release(active)
            await self._succeeded(active, delivery)

    def _task_done(self, active: _Active, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs its own handlers (Python throws the
        # cancellation in before the `try`): free its slot and end it here.
        if not task.cancelled() or not active.holds_slot:
            return
        self._release(active)
        if active.stop == "cancel":
            active.phase = _Phase.DELIVERING
            self._spawn(self._cancelled(active))

    async def _generate(self, active: _Active) -> Delivery:
        limit = self._timeout(active)
        try:
            async with asyncio.timeout(limit) as deadline:
                active.deadline = deadline
                return await self._work(active)
        except TimeoutError:
            if active.deadline is not None and active.deadline.expired():
                raise JobTimedOut(f"job {active.job.id}", seconds=str(round(limit))) from None
            raise

    def _timeout(self, active: _Active) -> float:
        if active.api_format == ApiFormat.MIDJOURNEY.value:
            return max(self.settings.mj_timeout, self.settings.job_timeout)
        return self.settings.job_timeout

    async def _work(self, active: _Active) -> Delivery:
        job, spec = active.job, active.job.spec
        progress = functools.partial(self._on_progress, active)
        limit = job.origin.upload_limit
        if spec.kind == ACTION:
            assert spec.follow_up is not None
            if job.upstream_task:
                plan = self.service.action_plan(job.model, spec.follow_up.caption)
                return await self.service.resume(
                    plan, job.upstream_task, max_file_bytes=limit, progress=progress
                )
            return await self.service.run_action(
                job.model,
                spec.follow_up.task_id,
                spec.follow_up.custom_id,
                prompt=spec.prompt or None,
                caption=spec.follow_up.caption,
                max_file_bytes=limit,
                progress=progress,
            )
        images = await self.files.load_inputs(job.id) if spec.sources else ()
        if images is None:
            # Accepted but not prepared before a restart: fetch the pictures now.
            plan = await self._prepare_inputs(job, self._plan(spec, job.model))
        else:
            plan = self._plan(spec, job.model, images)
        if job.upstream_task:
            return await self.service.resume(plan, job.upstream_task, max_file_bytes=limit, progress=progress)
        return await self.service.run(plan, max_file_bytes=limit, progress=progress)

    async def _on_progress(self, active: _Active, progress: Progress) -> None:
        active.percent = progress.percent if progress.percent is not None else active.percent
        active.preview_url = progress.preview_url or active.preview_url
        if progress.task_id and progress.task_id != active.job.upstream_task:
            await self.store.update(active.job, upstream_task=progress.task_id)
        if active.deadline is not None and active.api_format == ApiFormat.MIDJOURNEY.value:
            # A slow Midjourney queue that still moves is not cut off: the clock restarts.
            loop = asyncio.get_running_loop()
            active.deadline.reschedule(loop.time() + self._timeout(active))

    # --- endings ----------------------------------------------------------------------------

    async def _succeeded(self, active: _Active, delivery: Delivery) -> None:
        job = active.job
        await self.files.save_results(job.id, delivery.images)
        await self.store.set_result(job, _stored(delivery), self.clock())
        if job.spec.sources:
            await self.files.drop_inputs(job.id)
        log.info("Job %d done in %.1f s", job.id, delivery.seconds)
        await self._deliver(active, delivery)

    async def _deliver(self, active: _Active, delivery: Delivery) -> None:
        job = active.job
        sink = self._require_sink()
        active.phase = _Phase.DELIVERING
        try:
            async with active.message_lock:
                await sink.deliver(job, delivery)
        except Exception as exc:
            # Nowhere to post (no permission, channel gone): record it rather than retry forever.
            log.warning("Job %d: the result could not be posted (%s: %s)", job.id, type(exc).__name__, exc)
            await self.store.update(job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            await self.store.update(job, delivered_at=self.clock())
        finally:
            self._forget(active)

    async def _failed(self, active: _Active, error: Exception) -> None:
        job = active.job
        if isinstance(error, BotError):
            level = logging.WARNING if isinstance(error, UpstreamError) else logging.INFO
            log.log(level, "Job %d ended in %s: %s", job.id, type(error).__name__, error)
        else:
            log.error("Job %d failed unexpectedly", job.id, exc_info=error)
        await self._end(active, JobStatus.FAILED, error=type(error).__name__)
        await self._tell(active, lambda sink: sink.fail(job, error))

    async def _cancelled(self, active: _Active) -> None:
        job = active.job
        log.info("Job %d cancelled by user %s", job.id, job.cancelled_by)
        await self._end(active, JobStatus.CANCELLED, cancelled_by=job.cancelled_by)
        await self._tell(active, lambda sink: sink.cancelled(job))

    async def _end(self, active: _Active, status: JobStatus, **fields: Any) -> None:
        await self.store.update(active.job, status=status, finished_at=self.clock(), **fields)
        if active.job.spec.sources:
            await self.files.drop_inputs(active.job.id)
        self._forget(active)

    async def _tell(self, active: _Active, say: Callable[[JobSink], Coroutine[Any, Any, None]]) -> None:
        active.phase = _Phase.DELIVERING
        try:
            async with active.message_lock:
                await say(self._require_sink())
        except Exception as exc:
            log.warning(
                "Job %d: the member could not be told (%s: %s)", active.job.id, type(exc).__name__, exc
            )
            await self.store.update(active.job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
        else:
            await self.store.update(active.job, delivered_at=self.clock())

    def _forget(self, active: _Active) -> None:
        self._queue.remove(active.job.id)
        self._active.pop(active.job.id, None)

    def _require_sink(self) -> JobSink:
        if self.sink is None:
            raise RuntimeError("the job engine has no sink to show results in")
        return self.sink

    # --- cancelling -------------------------------------------------------------------------

    def cancel(self, job_id: int, member: Member) -> Job:
        """Cancel a job for its requester or a moderator; its slot is freed at once.

        Checks and marks at once (no waiting), so the button press is answered within Discord's
        3 seconds; the job's message is updated in the background.
        """
        active = self._active.get(job_id)
        if active is None or active.phase is _Phase.DELIVERING or active.stop:
            raise JobAlreadyOver(f"job {job_id}")
        job = active.job
        if member.user_id != job.origin.user_id and not member.is_moderator:
            raise NotYourJob(f"job {job_id}")
        job.cancelled_by = member.user_id
        active.stop = "cancel"
        if active.phase is _Phase.WAITING:
            self._queue.remove(job_id)
            active.phase = _Phase.DELIVERING
            self._spawn(self._cancelled(active))
        elif active.phase is _Phase.RUNNING and active.task is not None:
            active.task.cancel()
            if job.upstream_task:
                self._spawn(self.service.cancel_task(job.model, job.upstream_task))
        # Still preparing: `submit` ends it when the pictures are in.
        return job

    # --- progress ---------------------------------------------------------------------------

    def _show(self, active: _Active, places: dict[int, int]) -> None:
        if self.sink is None or active.message_lock.locked():
            return
        view = self._view(active, places)
        if view is None or view == active.shown:
            return
        self._spawn(self._send_progress(active, view))

    def _view(self, active: _Active, places: dict[int, int]) -> ProgressView | None:
        if active.phase is _Phase.WAITING:
            ahead = places.get(active.job.id, 0)
            return ProgressView(JobStatus.QUEUED, ahead=ahead, restarting=not self.accepting)
        if active.phase is _Phase.RUNNING:
            seconds = time.monotonic() - active.started
            if seconds < self.progress_every / 2 and active.percent is None:
                return None  # a quick job goes straight to its result, with no edit in between
            return ProgressView(
                JobStatus.RUNNING,
                seconds=int(seconds),
                percent=active.percent,
                preview_url=active.preview_url,
                restarting=not self.accepting,
            )
        return None

    async def _send_progress(self, active: _Active, view: ProgressView) -> None:
        async with active.message_lock:
            if active.phase not in (_Phase.WAITING, _Phase.RUNNING) or active.stop == "cancel":
                return
            try:
                message_id = await self._require_sink().progress(active.job, view)
            except Exception as exc:
                # Progress is a courtesy: a failed edit must not end the job, whose result follows.
                log.debug("Job %d: progress not shown (%s)", active.job.id, exc)
                return
            active.shown = view
            if message_id and message_id != active.job.message_id:
                await self.store.update(active.job, message_id=message_id)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.progress_every)
            places = self._queue.places()
            for active in list(self._active.values()):
                self._show(active, places)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- start, restart and housekeeping ---------------------------------------------------

    async def start(self) -> None:
        """Pick up every job the journal holds open, then run the queue and its clocks."""
        resumed = 0
        for job in await self.store.unfinished():
            try:
                route, _ = self.service.route(job.model)
            except BotError as exc:
                # The owner took the model out of MODELS meanwhile: the member is told why.
                log.warning("Job %d cannot resume: %s", job.id, exc)
                active = _Active(job, "", phase=_Phase.DELIVERING)
                self._active[job.id] = active
                self._spawn(self._failed(active, exc))
                continue
            active = _Active(job, route.format.value)
            self._active[job.id] = active
            resumed += 1
            if job.status is JobStatus.DONE:
                active.phase = _Phase.DELIVERING
                self._spawn(self._redeliver(active))
            else:
                active.phase = _Phase.WAITING
                self._queue.push(Entry(job.id, job.origin.user_id, active.keys))
        if resumed:
            log.info("Resuming %d jobs from the journal", resumed)
        self._dispatch()
        places = self._queue.places()
        for active in list(self._active.values()):
            if active.phase is _Phase.WAITING:
                self._show(active, places)
        self._loops = [
            asyncio.create_task(self._tick(), name="jobs-progress"),
            asyncio.create_task(self._janitor(), name="jobs-janitor"),
        ]

    async def _redeliver(self, active: _Active) -> None:
        """A job finished before a restart but its result was not confirmed posted."""
        job = active.job
        try:
            if await self._require_sink().was_delivered(job):
                log.info("Job %d was already delivered before the restart", job.id)
                await self.store.update(job, delivered_at=self.clock())
                self._forget(active)
                return
            images = await self.files.load_results(job.id)
            stored = await self.store.result(job.id)
            if not images or stored is None:
                raise FileNotFoundError(f"the results of job {job.id} are gone")
            delivery = self._restore(job, images, stored)
        except Exception as exc:
            log.warning("Job %d could not be delivered again: %s", job.id, exc)
            await self.store.update(job, delivery_error=f"{type(exc).__name__}: {exc}"[:500])
            self._forget(active)
            return
        await self._deliver(active, delivery)

    def _restore(self, job: Job, images: tuple[FittedImage, ...], stored: StoredResult) -> Delivery:
        spec = job.spec
        if spec.kind == ACTION:
            assert spec.follow_up is not None
            plan = self.service.action_plan(job.model, spec.follow_up.caption)
        else:
            plan = self._plan(spec, job.model)
        return Delivery(
            images,
            stored.text,
            plan,
            stored.seconds,
            tuple(Note(key, params) for key, params in stored.notes),
            task_id=stored.task_id,
            actions=tuple(Action(*action) for action in stored.actions),
        )

    async def _janitor(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.clean_files()
            await asyncio.sleep(self.janitor_every)

    async def clean_files(self) -> int:
        """Remove the pictures of jobs that ended longer ago than RESULT_RETENTION_HOURS."""
        cutoff = self.clock() - self.settings.result_retention_hours * 3600
        removed = 0
        for job_id in await asyncio.to_thread(self.files.stored_ids):
            if job_id in self._active:
                continue
            job = await self.store.get(job_id)
            if job is None or (job.finished_at is not None and job.finished_at < cutoff):
                await self.files.remove(job_id)
                removed += 1
        if removed:
            log.info("Removed the pictures of %d old jobs", removed)
        return removed

    async def drain(self) -> None:
        """Stop taking jobs, let running ones finish for SHUTDOWN_GRACE seconds, and leave the rest
        in the journal for the next start. Safe to call more than once."""
        if self._drained is None:
            self._drained = asyncio.create_task(self._drain(), name="jobs-drain")
        await asyncio.shield(self._drained)

    async def _drain(self) -> None:
        self.accepting = False
        grace = self.settings.shutdown_grace
        running = [a.task for a in self._active.values() if a.task is not None and not a.task.done()]
        if running:
            log.info("Waiting up to %g s for %d running jobs", grace, len(running))
            await asyncio.wait(running, timeout=max(grace, 0.001))
        interrupted = []
        for active in list(self._active.values()):
            if (
                active.task is not None
                and not active.task.done()
                and active.phase is _Phase.RUNNING
                and not active.stop
            ):
                active.stop = "shutdown"
                active.task.cancel()
                interrupted.append(active.task)
        if interrupted:
            log.info("%d jobs stay in the journal to run after the restart", len(interrupted))
            await asyncio.wait(interrupted, timeout=10)
        finishing = [a.task for a in self._active.values() if a.task is not None and not a.task.done()]
        if finishing:
            await asyncio.wait(finishing, timeout=30)
        # Tell the members who wait that their job is kept, not lost.
        waiting = [a for a in self._active.values() if a.phase in (_Phase.WAITING, _Phase.RUNNING)]
        for active in waiting:
            active.phase = _Phase.WAITING
        notices = [self._send_progress(a, ProgressView(JobStatus.QUEUED, restarting=True)) for a in waiting]
        if notices:
            await asyncio.wait([asyncio.ensure_future(n) for n in notices], timeout=5)
        for task in self._loops:
            task.cancel()
        if self._background:
            # Deliveries and notices under way finish, so the journal records what was posted.
            await asyncio.wait(list(self._background), timeout=10)
        for task in self._background:
            task.cancel()

    # --- what members and owners can ask ---------------------------------------------------

    def job(self, job_id: int) -> Job | None:
        active = self._active.get(job_id)
        return active.job if active else None

    async def usage(self, member: Member, *, with_guild: bool) -> Usage:
        settings, now = self.settings, self.clock()
        day_start = now - now % DAY
        used = await self.store.units_since(day_start, user_id=member.user_id)
        usage = Usage(
            used,
            settings.user_daily_limit,
            day_start + DAY - now,
            is_exempt(settings, member),
            settings.user_cooldown,
        )
        if not with_guild or member.guild_id is None:
            return usage
        guild_used = await self.store.units_since(day_start, guild_id=member.guild_id)
        top = await self.store.top_users(member.guild_id, day_start)
        return Usage(
            usage.used,
            usage.limit,
            usage.resets_in,
            usage.exempt,
            usage.cooldown,
            guild_used,
            settings.guild_daily_limit,
            tuple(top),
        )

    async def status(self) -> EngineStatus:
        stats = await self.store.model_stats(self.clock() - STATS_WINDOW)
        waiting = sum(1 for a in self._active.values() if a.phase in (_Phase.PREPARING, _Phase.WAITING))
        return EngineStatus(
            self._running, waiting, self.settings.max_concurrent_jobs, self.accepting, tuple(stats)
        )


def _stored(delivery: Delivery) -> StoredResult:
    return StoredResult(
        delivery.text,
        tuple((note.key, dict(note.params)) for note in delivery.notes),
        delivery.seconds,
        delivery.task_id,
        tuple((a.label, a.emoji, a.custom_id) for a in delivery.actions),
    )


def duration(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
