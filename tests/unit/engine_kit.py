"""Fakes that drive the job engine without Discord or an API: a recording sink, a fake clock and a
fake image service whose runs the test steers one by one.

The engine runs on a real journal (`SqliteJobStore`, and `PostgresJobStore` on a real server: the
`kit` fixture runs each test on both) and real `JobFiles` under `tmp_path`; the `Kit` builds
it all and tears it down. Every wait here has a deadline and fails with a message, never a guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from bot.config import Settings
from bot.errors import UnknownModel
from bot.imaging import FittedImage
from bot.jobs.access import Member
from bot.jobs.engine import JobEngine
from bot.jobs.files import JobFiles
from bot.jobs.model import Job, Origin
from bot.jobs.pg_store import PostgresJobStore
from bot.jobs.state import Active, ProgressView
from bot.jobs.store import SqliteJobStore
from bot.postgres import PgActionStore, PgDatabase
from bot.providers.base import Action, Progress, ProgressCallback
from bot.request import GenerateRequest, InputImage, Kind, Note, SourceImage
from bot.routing import ModelRoute
from bot.service import Delivery, Plan, Timing
from bot.storage import ActionStore, Database, SqliteActionStore
from tests.servers import new_schema

WAIT = 5.0
DAY = 86400.0
# Noon UTC on some day: a whole half day either side for the daily limits.
NOON = 20_000 * DAY + 12 * 3600.0
GUILD = 500_000_000_000_000_001
CHANNEL = 600_000_000_000_000_001


def png(width: int = 4, height: int = 4) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 20)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png()


async def until(predicate: Callable[[], object], what: str = "the condition", timeout: float = WAIT) -> None:
    """Wait until `predicate()` is true, or fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    spins = 0
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        # Yield a few times first (most states are one step away), then leave the database thread room.
        spins += 1
        await asyncio.sleep(0 if spins < 20 else 0.002)


class FakeClock:
    """Wall-clock seconds the test moves by hand, and a monotonic clock for the running seconds."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now
        self.mono = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.mono


# --- the sink --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    kind: str  # "progress", "deliver", "fail", "cancelled", "was_delivered"
    job_id: int
    value: Any = None  # the ProgressView, the Delivery or the error


class RecordingSink:
    """Records every call; a test awaits the call it expects, makes a method raise, or holds it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.changed = asyncio.Condition()
        self.raises: dict[str, BaseException] = {}
        self.holds: dict[str, asyncio.Event] = {}
        self.delivered_before: set[int] = set()
        self.message_ids: dict[int, int] = {}

    async def _record(self, kind: str, job: Job, value: Any = None) -> None:
        async with self.changed:
            self.calls.append(Call(kind, job.id, value))
            self.changed.notify_all()
        hold = self.holds.get(kind)
        if hold is not None:
            await hold.wait()
        error = self.raises.get(kind)
        if error is not None:
            raise error

    async def progress(self, job: Job, view: ProgressView) -> int | None:
        await self._record("progress", job, view)
        return self.message_ids.get(job.id)

    async def deliver(self, job: Job, delivery: Delivery) -> int | None:
        await self._record("deliver", job, delivery)
        return 900_000 + job.id  # the result's message

    async def fail(self, job: Job, error: BaseException) -> None:
        await self._record("fail", job, error)

    async def cancelled(self, job: Job) -> None:
        await self._record("cancelled", job)

    async def was_delivered(self, job: Job) -> bool:
        await self._record("was_delivered", job)
        return job.id in self.delivered_before

    def of(self, kind: str, job_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.kind == kind and (job_id is None or c.job_id == job_id)]

    async def wait_for(
        self, kind: str, job_id: int | None = None, *, count: int = 1, timeout: float = WAIT
    ) -> Call:
        """The `count`-th call of this kind (for this job), recorded already or still to come."""
        try:
            async with asyncio.timeout(timeout), self.changed:
                await self.changed.wait_for(lambda: len(self.of(kind, job_id)) >= count)
        except TimeoutError:
            seen = [(c.kind, c.job_id) for c in self.calls]
            pytest.fail(f"no {kind} call #{count} for job {job_id} within {timeout:g} s; calls: {seen}")
        return self.of(kind, job_id)[count - 1]

    async def ending(self, job_id: int, timeout: float = WAIT) -> Call:
        """The one ending (deliver, fail or cancelled) the member is shown for a job."""
        endings = ("deliver", "fail", "cancelled")
        try:
            async with asyncio.timeout(timeout), self.changed:
                await self.changed.wait_for(
                    lambda: any(c.kind in endings and c.job_id == job_id for c in self.calls)
                )
        except TimeoutError:
            pytest.fail(f"job {job_id} got no ending within {timeout:g} s; calls: {self.calls}")
        return next(c for c in self.calls if c.kind in endings and c.job_id == job_id)


# --- the image service ---------------------------------------------------------------------------


class Done:
    """Tells a held run to return its delivery."""


class Run:
    """One call of `run` or `resume`: the test feeds it Progress, an error to raise, or `Done`."""

    def __init__(
        self, service: FakeService, plan: Plan, progress: ProgressCallback | None, task_id: str | None
    ) -> None:
        self.service = service
        self.plan = plan
        self.progress = progress
        self.task_id = task_id  # the task a resume follows; None for a fresh run
        self.max_file_bytes = 0
        self.commands: asyncio.Queue[object] = asyncio.Queue()
        self.reported = 0  # Progress values passed on to the engine so far
        self.cancelled = False
        self.finished = False

    @property
    def prompt(self) -> str:
        return self.plan.request.prompt

    def report(self, progress: Progress) -> None:
        self.commands.put_nowait(progress)

    def succeed(self) -> None:
        self.commands.put_nowait(Done())

    def fail(self, error: BaseException) -> None:
        self.commands.put_nowait(error)

    async def play(self) -> Delivery:
        try:
            while True:
                command = await self.commands.get()
                if isinstance(command, Progress):
                    assert self.progress is not None
                    await self.progress(command)
                    self.reported += 1
                elif isinstance(command, BaseException):
                    raise command
                else:
                    self.finished = True
                    return self.service.delivery(self.plan)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class FakeService:
    """What the engine calls on ImageService; runs wait for the test unless `instant` is set."""

    def __init__(self) -> None:
        self.formats: dict[str, str] = {"gem": "gemini", "gem-pro": "gemini", "gpt": "openai", "mj": "mj"}
        self.default = "gem"
        self.timings: dict[str, Timing] = {}
        self.plan_notes: tuple[Note, ...] = ()
        self.instant = False
        self.runs: list[Run] = []
        self.loads: list[Plan] = []
        self.previews: list[str] = []
        self.load_gate: asyncio.Event | None = None
        self.load_error: BaseException | None = None
        self.cancelled_tasks: list[tuple[str, str]] = []
        self.prices: dict[str, float] = {}

    def route(self, model: str | None) -> tuple[ModelRoute, object]:
        name = model or self.default
        if name not in self.formats:
            raise UnknownModel(name, model=name, models=", ".join(self.formats))
        return ModelRoute(name, self.formats[name]), object()

    def plan_request(self, request: GenerateRequest) -> Plan:
        route, _ = self.route(request.model or None)
        notes = () if request.kind is Kind.ACTION else self.plan_notes
        return Plan(replace(request, model=route.name), route, notes)

    def estimate(self, plan: Plan) -> float | None:
        """Each picture of a model in `prices` costs that much; other models have no price."""
        price = self.prices.get(plan.route.name)
        return None if price is None else price * plan.request.count

    def timing(self, model: str) -> Timing:
        self.route(model)
        return self.timings.get(model, Timing(60.0))

    async def preview(self, url: str) -> bytes | None:
        self.previews.append(url)
        return PNG

    async def load(self, plan: Plan, pictures: tuple[bytes, ...] = ()) -> tuple[InputImage, ...]:
        self.loads.append(plan)
        if self.load_gate is not None:
            await self.load_gate.wait()
        if self.load_error is not None:
            raise self.load_error
        kept = tuple(InputImage(data, "image/png") for data in pictures)
        return kept + tuple(InputImage(PNG, "image/png") for _ in plan.request.sources)

    async def run(
        self, plan: Plan, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        return await self._start(plan, max_file_bytes, progress, None)

    async def resume(
        self, plan: Plan, task_id: str, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        return await self._start(plan, max_file_bytes, progress, task_id)

    async def _start(
        self, plan: Plan, max_file_bytes: int, progress: ProgressCallback | None, task_id: str | None
    ) -> Delivery:
        run = Run(self, plan, progress, task_id)
        run.max_file_bytes = max_file_bytes
        self.runs.append(run)
        if self.instant:
            run.succeed()
        return await run.play()

    async def cancel_task(self, model: str, task_id: str) -> None:
        self.cancelled_tasks.append((model, task_id))

    def delivery(self, plan: Plan) -> Delivery:
        return Delivery(
            (FittedImage(PNG, "image/png", 4, 4),),
            f"made: {plan.request.prompt}",
            plan,
            1.5,
            (Note("note.test", {"prompt": plan.request.prompt}),),
            task_id="task-result",
            actions=(Action("U1", "⬆", "mj::upsample::1"),),
        )

    async def started(self, prompt: str, *, count: int = 1, timeout: float = WAIT) -> Run:
        """The `count`-th run of a prompt, once it has started."""
        await until(lambda: len(self.runs_of(prompt)) >= count, f"run #{count} of {prompt!r}", timeout)
        return self.runs_of(prompt)[count - 1]

    def runs_of(self, prompt: str) -> list[Run]:
        return [r for r in self.runs if r.prompt == prompt]


# --- building an engine ------------------------------------------------------------------------------


def member(
    user_id: int = 1,
    *,
    guild_id: int | None = GUILD,
    channels: tuple[int, ...] = (CHANNEL,),
    roles: frozenset[int] = frozenset(),
    moderator: bool = False,
) -> Member:
    return Member(user_id, guild_id, channels, roles, is_moderator=moderator)


def origin(who: Member) -> Origin:
    return Origin(
        user_id=who.user_id,
        user_name=f"user{who.user_id}",
        channel_id=who.channel_ids[0],
        guild_id=who.guild_id,
        upload_limit=8 * 1024 * 1024,
        token="interaction-token",
        token_expires_at=NOON + 900,
    )


def request(prompt: str = "a cat", model: str = "gem", **fields: Any) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, model=model, **fields)


def sources(count: int = 1) -> tuple[SourceImage, ...]:
    return tuple(
        SourceImage(f"p{i}.png", f"https://cdn.example/p{i}.png", "image/png", 100) for i in range(count)
    )


@dataclass
class Kit:
    """An engine on a real journal and real files, with the fakes around it."""

    tmp_path: Path
    db: Database | PgDatabase
    store: SqliteJobStore | PostgresJobStore
    files: JobFiles
    actions: ActionStore
    service: FakeService = field(default_factory=FakeService)
    sink: RecordingSink = field(default_factory=RecordingSink)
    clock: FakeClock = field(default_factory=FakeClock)
    settings: Settings = field(
        default_factory=lambda: Settings(
            discord_token="t", api_key="k", max_concurrent_jobs=2, shutdown_grace=0.0
        )
    )
    engines: list[JobEngine] = field(default_factory=list)

    def engine(self, **changes: Any) -> JobEngine:
        """A new engine on the same journal and files (a second one stands for a restart)."""
        self.settings = dataclasses.replace(self.settings, **changes)
        engine = JobEngine(self.settings, self.service, self.store, self.files, clock=self.clock)  # type: ignore[arg-type]
        engine.sink = self.sink
        self.engines.append(engine)
        return engine

    async def submit(
        self, engine: JobEngine, prompt: str = "a cat", who: Member | None = None, **fields: Any
    ) -> Job:
        who = who or member()
        job = await engine.accept(request(prompt, **fields), origin(who), who)
        await engine.submit(job)
        return job

    async def row(self, job_id: int) -> dict[str, Any]:
        """The job's journal row as it is stored."""
        if isinstance(self.db, PgDatabase):
            found: Any = await self.db.fetchrow("SELECT * FROM jobs WHERE id = ?", job_id)
        else:
            async with self.db.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cursor:
                found = await cursor.fetchone()
        assert found is not None, f"job {job_id} is not in the journal"
        return dict(found)

    async def count_jobs(self) -> int:
        if isinstance(self.db, PgDatabase):
            return int(await self.db.fetchval("SELECT COUNT(*) FROM jobs"))
        async with self.db.conn.execute("SELECT COUNT(*) FROM jobs") as cursor:
            found = await cursor.fetchone()
        return int(found[0]) if found else 0

    async def status_of(self, job_id: int) -> str:
        return str((await self.row(job_id))["status"])

    def active(self, engine: JobEngine, job_id: int) -> Active:
        return engine.board.active[job_id]

    async def close(self) -> None:
        for hold in self.sink.holds.values():
            hold.set()
        if self.service.load_gate is not None:
            self.service.load_gate.set()
        for engine in self.engines:
            await engine.drain()
        await self.db.close()


async def _made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database | PgDatabase) -> Kit:
    await db.open()
    if isinstance(db, PgDatabase):
        made = Kit(tmp_path, db, PostgresJobStore(db), JobFiles(tmp_path / "jobs"), PgActionStore(db))
    else:
        made = Kit(tmp_path, db, SqliteJobStore(db), JobFiles(tmp_path / "jobs"), SqliteActionStore(db))
    # The running seconds come from time.monotonic in the runner and the progress view only.
    fake_time = SimpleNamespace(monotonic=made.clock.monotonic)
    monkeypatch.setattr("bot.jobs.runner.time", fake_time)
    monkeypatch.setattr("bot.jobs.progress.time", fake_time)
    return made


@pytest.fixture(params=["sqlite", "postgresql"])
async def kit(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Kit]:
    """The engine on each journal: the SQLite file, and PostgreSQL (a schema of its own on the
    session's server, tests/servers.py)."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "postgresql":
            url = await stack.enter_async_context(new_schema(request.getfixturevalue("postgres_server")))
            db: Database | PgDatabase = PgDatabase(url, write_patience=0)
        else:
            db = Database(tmp_path / "db" / "jobs.db")
        made = await _made(tmp_path, monkeypatch, db)
        try:
            yield made
        finally:
            await made.close()


@pytest.fixture
async def sqlite_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kit]:
    """The engine on the SQLite file alone, for tests of that file's own behaviour."""
    made = await _made(tmp_path, monkeypatch, Database(tmp_path / "db" / "jobs.db"))
    try:
        yield made
    finally:
        await made.close()
