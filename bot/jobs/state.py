"""What the job engine holds while jobs are open, and the values it shows: no logic beyond bookkeeping.

Every part of the engine (admission, intake, the run, progress, restart and drain) works on one
`Board`, so the counts they check (open jobs per member, free slots, caps) agree by construction.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import PictureGone
from bot.jobs.model import Job, JobStatus
from bot.jobs.queue import FairQueue
from bot.notices import Notice, OwnerNotices
from bot.request import Exchange, InputImage

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.jobs.files import JobFiles
    from bot.jobs.store import JobStore
    from bot.service import Delivery, ImageService, Timing


class Remote(Protocol):
    """Where a gateway's jobs run: worker processes, reached through the queue (bot/jobs/handoff.py)."""

    def kick(self) -> None:
        """Look for room for the waiting jobs now."""

    async def cancel(self, active: Active) -> None:
        """Stop a job a worker holds (journaled first, then told to the queue)."""


class JobSink(Protocol):
    """Where a job's state and outcome are shown; every method may raise, the engine logs it."""

    async def progress(self, job: Job, view: ProgressView) -> int | None:
        """Show where the job stands; return the id of the message that shows it, if known."""

    async def deliver(self, job: Job, delivery: Delivery) -> int | None:
        """Post the result; return the id of the message that shows it, if known."""

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
    # The task's preview picture as the bot downloaded it: relay URLs may carry keys, so members
    # are shown the copy, never the link.
    preview: bytes | None = field(default=None, repr=False)
    restarting: bool = False
    # What the job should cost, in `currency`; None when no price is known.
    estimate: float | None = None
    currency: str = ""


class Phase(enum.Enum):
    PREPARING = "preparing"  # accepted; its pictures are being fetched
    WAITING = "waiting"  # in the queue
    RUNNING = "running"  # holds a slot, calling the API
    DELIVERING = "delivering"  # posting the outcome; nothing may interrupt it


@dataclass(eq=False)
class Active:
    """An open job and what the engine knows about it besides the journal."""

    job: Job
    api_format: str
    phase: Phase = Phase.PREPARING
    # The prepared pictures, kept in memory for the run; the files on disk are only for a restart.
    images: tuple[InputImage, ...] | None = None
    history: tuple[Exchange, ...] = ()  # the conversation an edit sends back, from its parent's files
    task: asyncio.Task[None] | None = None
    started: float = 0.0
    holds_slot: bool = False
    percent: int | None = None
    preview_url: str | None = None  # the last preview link the API gave (never shown)
    preview: bytes | None = field(default=None, repr=False)
    deadline: asyncio.Timeout | None = None
    timing: Timing | None = None
    shown: ProgressView | None = None
    message_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stop: str | None = None  # why its task was cancelled: "cancel" or "shutdown"

    @property
    def keys(self) -> tuple[str, ...]:
        # A model named like its format counts once against the caps.
        return tuple(dict.fromkeys((self.api_format, self.job.model)))

    @property
    def open(self) -> bool:
        return self.phase is not Phase.DELIVERING


@dataclass(eq=False)
class Board:
    """The engine's shared state and the services every part uses."""

    settings: Settings
    service: ImageService
    store: JobStore
    files: JobFiles
    now: Callable[[], float]  # wall-clock seconds; tests pass a fake clock
    sink: JobSink | None = None
    # Where the owner hears of what needs them (a budget reached, a refused key …).
    notices: OwnerNotices | None = None
    accepting: bool = True
    # Accepted but not yet journaled (between the checks and the journal write); keyed by id(job).
    pending: dict[int, Active] = field(default_factory=dict)
    active: dict[int, Active] = field(default_factory=dict)
    queue: FairQueue = field(default_factory=FairQueue)
    running: int = 0
    running_keys: Counter[str] = field(default_factory=Counter)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # A gateway process: its jobs run in workers (dispatched, they show no progress from here).
    remote: Remote | None = None
    # A worker process: whether it, of every live worker, posts this job's result (exactly once).
    claim_delivery: Callable[[Job], Coroutine[Any, Any, bool]] | None = None

    def require_sink(self) -> JobSink:
        if self.sink is None:
            raise RuntimeError("the job engine has no sink to show results in")
        return self.sink

    def picture_gone(self, what: str) -> PictureGone:
        """The answer to a press on a result whose pictures are no longer kept."""
        return PictureGone(what, hours=round(self.settings.result_retention_hours))

    def tell_owner(self, notice: Notice) -> None:
        if self.notices is not None:
            self.notices.tell(notice)

    def open_jobs(self) -> list[Active]:
        return [a for a in (*self.active.values(), *self.pending.values()) if a.open]

    def forget(self, active: Active) -> None:
        self.queue.remove(active.job.id)
        self.active.pop(active.job.id, None)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in the background, kept until it ends (the drain waits for these)."""
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
