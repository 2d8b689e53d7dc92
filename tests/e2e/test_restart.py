"""Restart safety with `python -m bot` as a real process: jobs a stop (or a crash) leaves behind are
kept in the journal under DATA_DIR, and the next start delivers each of them exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.storage import DB_NAME
from tests.e2e.test_process import environment, spawn
from tests.fakes.discord import Call, FakeDiscord, SentInteraction, is_progress, user
from tests.fakes.relay import FakeRelay

GRACE = 3
ALICE = user("200000000000000001", "alice")
BOB = user("200000000000000002", "bob")
CAROL = user("200000000000000003", "carol")
JOBS = [("alice 1", ALICE), ("bob 1", BOB), ("alice 2", ALICE), ("carol 1", CAROL), ("bob 2", BOB)]


class Output:
    """One of a process's streams, read as it comes (a full pipe would stall the bot)."""

    def __init__(self, stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace"))

    @property
    def text(self) -> str:
        return "".join(self.lines)

    async def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            if self.task.done():
                raise AssertionError(f"the process ended without logging {text!r}:\n{self.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} logged within {timeout} s:\n{self.text}")
            await asyncio.sleep(0.02)


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.out = Output(process.stdout)
        self.log = Output(process.stderr)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await self.exit(timeout)

    async def exit(self, timeout: float = 30) -> int:
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
            await asyncio.gather(self.out.task, self.log.task)
        return code


async def run_bot(env: dict[str, str], cwd: Path) -> BotProcess:
    return BotProcess(await spawn(env, cwd))


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def results(calls: list[Call], sent: SentInteraction) -> list[Call]:
    """The edits of the member's message that carried pictures (progress edits carry none)."""
    return [
        c
        for c in calls
        if sent.token in c.path
        and c.method == "PATCH"
        and c.path.endswith("/messages/@original")
        and bool(c.files)
    ]


def shows_place(discord_fake: FakeDiscord, sent: SentInteraction) -> bool:
    return any(
        is_progress(c) and c.payload["content"].startswith("⏳") for c in discord_fake.calls_for(sent.token)
    )


def journal(data_dir: Path) -> list[dict[str, Any]]:
    """The jobs as the bot journaled them (read while it runs, too: the database is in WAL mode)."""
    with contextlib.closing(sqlite3.connect(data_dir / DB_NAME)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT id, status, delivered_at, delivery_error FROM jobs ORDER BY id").fetchall()
    return [dict(row) for row in rows]


def prompt_of(call: Any) -> str:
    return call.body["contents"][0]["parts"][0]["text"]


def bad_log_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line]


async def test_jobs_left_at_a_restart_are_delivered_exactly_once_after_it(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # Two slots: the first call is answered only when the test says (during the grace), the second
    # hangs past the grace (it is cut off), and three more jobs wait in the queue.
    relay.queue("gated", "slow")
    relay.slow_seconds = 600
    env = environment(
        discord_fake,
        relay,
        tmp_path,
        SHUTDOWN_GRACE=str(GRACE),
        MAX_CONCURRENT_JOBS="2",
        LOG_LEVEL="INFO",
    )
    first = await run_bot(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        sent: dict[str, SentInteraction] = {}
        for prompt, member in JOBS:
            payload = discord_fake.slash("imagine", {"prompt": prompt}, member=member)
            sent[prompt] = await discord_fake.send_interaction(payload)
        await until(lambda: len(relay.generate_calls()) == 2 and relay.in_flight == 2)
        gated, cut_off = (prompt_of(c) for c in relay.generate_calls())
        queued = [p for p in sent if p not in (gated, cut_off)]
        # Every job was accepted and deferred; the waiting ones show their place in the queue.
        await until(lambda: all(shows_place(discord_fake, sent[p]) for p in queued))
        assert all(discord_fake.callback(s).payload == {"type": 5} for s in sent.values())  # type: ignore[union-attr]

        stopped_at = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        await first.log.wait_for(f"Waiting up to {GRACE} s for 2 running jobs", timeout=10)
        relay.gate.set()  # the running job that finishes within the grace is delivered at once
        code = await first.exit(timeout=GRACE + 10)
        took = time.monotonic() - stopped_at
    finally:
        if first.process.returncode is None:
            await first.stop(signal.SIGKILL)
    log = first.log.text
    assert code == 0, log
    assert GRACE <= took < GRACE + 10, f"stopped after {took:.1f} s"
    assert "1 jobs stay in the journal to run after the restart" in log
    assert not bad_log_lines(log), log

    calls_before = list(discord_fake.calls)
    generated_before = len(relay.generate_calls())
    # The job that finished within the grace was delivered before the bot stopped.
    assert len(results(calls_before, sent[gated])) == 1
    left = [cut_off, *queued]
    for prompt in left:
        token = sent[prompt].token
        assert not results(calls_before, sent[prompt])
        edits = [c for c in calls_before if token in c.path and c.method == "PATCH"]
        notice = edits[-1]
        assert notice.path.endswith("/messages/@original")
        assert notice.payload["content"].startswith("🔄"), f"{prompt}: {notice.payload}"
        assert not is_progress(notice), "no Cancel button on a job that waits for the restart"
        assert discord_fake.original_message(token)["content"].startswith("🔄")
        others = [c for c in calls_before if token in c.path and c.method in ("POST", "DELETE")]
        assert [c.path.rsplit("/", 1)[1] for c in others] == ["callback"]
    saved = Counter(row["status"] for row in journal(tmp_path / "data"))
    assert saved == {"done": 1, "running": 1, "queued": 3}

    # The next start, on the same DATA_DIR and a fast relay: it picks the four jobs up by itself.
    second = await run_bot(env, tmp_path)
    try:
        for prompt in left:
            await until(lambda p=prompt: bool(results(discord_fake.calls, sent[p])), timeout=30)
        await until(lambda: all(r["delivered_at"] for r in journal(tmp_path / "data")), timeout=10)
    finally:
        code = await second.stop(signal.SIGTERM, timeout=GRACE + 10)
    log = second.log.text
    assert code == 0, log
    assert "Resuming 4 jobs from the journal" in log
    assert not bad_log_lines(log), log

    for prompt, one in sent.items():
        delivered = results(discord_fake.calls, one)
        assert len(delivered) == 1, f"{prompt}: delivered {len(delivered)} times"
        assert len(delivered[0].files) == 1
        assert (delivered[0] in calls_before) == (prompt == gated)
        message = discord_fake.original_message(one.token)
        assert len(message["attachments"]) == 1 and not message["content"]
        # No second copy anywhere: no followup with pictures, and no error or channel post.
        others = [c for c in discord_fake.calls_for(one.token) if c.method in ("POST", "DELETE")]
        assert [c.path.rsplit("/", 1)[1] for c in others] == ["callback"], f"{prompt}: {others}"
    assert discord_fake.bot_posts == []
    # Only the jobs left behind ran again, each once.
    assert sorted(prompt_of(c) for c in relay.generate_calls()[generated_before:]) == sorted(left)
    rows = journal(tmp_path / "data")
    assert [(r["status"], r["delivery_error"]) for r in rows] == [("done", None)] * len(JOBS)
    assert all(r["delivered_at"] for r in rows)


# --- a crash between a finished job and its delivery --------------------------------------------


class Stalls:
    """Make the fake Discord hang on one interaction's result edit, as when the bot dies mid-post:
    "keep" applies the edit before hanging (the post went through), "lose" never applies it."""

    def __init__(self) -> None:
        self.plan: dict[str, str] = {}
        self.hung: list[str] = []
        self._never = asyncio.Event()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        token = request.match_info.get("token", "")
        how = self.plan.get(token)
        if request.method != "PATCH" or how is None or not request.content_type.startswith("multipart/"):
            return await handler(request)
        del self.plan[token]
        if how == "keep":
            await handler(request)
        else:
            await request.read()
        self.hung.append(token)
        await self._never.wait()
        raise AssertionError("unreachable")


@pytest.fixture
def stalls() -> Stalls:
    return Stalls()


@pytest.fixture
async def stalling_discord(stalls: Stalls) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    fake.app.middlewares.append(stalls.middleware)
    await fake.start()
    yield fake
    await fake.close()


async def test_a_job_done_but_not_delivered_before_a_crash_is_delivered_once_after_it(
    stalling_discord: FakeDiscord, stalls: Stalls, relay: FakeRelay, tmp_path: Path
) -> None:
    discord_fake = stalling_discord
    env = environment(discord_fake, relay, tmp_path, SHUTDOWN_GRACE="1", LOG_LEVEL="INFO")
    first = await run_bot(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        kept = discord_fake.slash("imagine", {"prompt": "kept"}, member=ALICE)
        lost = discord_fake.slash("imagine", {"prompt": "lost"}, member=BOB)
        stalls.plan = {kept["token"]: "keep", lost["token"]: "lose"}
        sent = [await discord_fake.send_interaction(p) for p in (kept, lost)]
        await until(lambda: len(stalls.hung) == 2)
    finally:
        code = await first.stop(signal.SIGKILL)  # dies while both posts hang
    assert code == -signal.SIGKILL
    # Both pictures were made and journaled, neither delivery was confirmed.
    rows = journal(tmp_path / "data")
    assert [(r["status"], r["delivered_at"]) for r in rows] == [("done", None), ("done", None)]
    assert len(results(discord_fake.calls, sent[0])) == 1  # Discord did get this one
    assert not results(discord_fake.calls, sent[1])

    second = await run_bot(env, tmp_path)
    try:
        await until(lambda: bool(results(discord_fake.calls, sent[1])), timeout=30)
        await second.log.wait_for(f"Job {rows[0]['id']} was already delivered before the restart")
        await until(lambda: all(r["delivered_at"] for r in journal(tmp_path / "data")), timeout=10)
    finally:
        code = await second.stop(signal.SIGTERM)
    log = second.log.text
    assert code == 0, log
    assert not bad_log_lines(log), log
    for one in sent:
        assert len(results(discord_fake.calls, one)) == 1
        assert len(discord_fake.original_message(one.token)["attachments"]) == 1
    assert discord_fake.bot_posts == []
    assert len(relay.generate_calls()) == 2, "a finished picture is not made again"


async def test_a_crash_right_after_a_burst_of_defers_loses_no_accepted_job(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    relay.hold = asyncio.Event()  # nothing finishes before the crash
    env = environment(discord_fake, relay, tmp_path, LOG_LEVEL="INFO", MAX_QUEUE_LENGTH="100")
    members = [user(f"2100000000000000{n:02d}", f"member{n}") for n in range(30)]
    first = await run_bot(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        deferred: list[Call] = []

        def crash_at_the_last_defer(call: Call) -> None:
            deferred.append(call)
            if len(deferred) == len(members):
                # 29 members have seen "thinking…" and the 30th is about to: the bot dies this instant.
                first.process.kill()

        discord_fake.on_callback = crash_at_the_last_defer
        sent = [
            await discord_fake.send_interaction(
                discord_fake.slash("imagine", {"prompt": f"p{n}"}, member=who)
            )
            for n, who in enumerate(members)
        ]
        assert await first.exit(timeout=20) == -signal.SIGKILL
    finally:
        discord_fake.on_callback = None
        if first.process.returncode is None:
            await first.stop(signal.SIGKILL)
    assert len(journal(tmp_path / "data")) == 30, "every deferred command is in the journal"

    relay.hold.set()
    second = await run_bot(env, tmp_path)
    try:
        await until(lambda: all(results(discord_fake.calls, s) for s in sent), timeout=40)
    finally:
        code = await second.stop(signal.SIGTERM, timeout=GRACE + 20)
    assert code == 0, second.log.text
    assert "Resuming 30 jobs from the journal" in second.log.text
    assert all(len(results(discord_fake.calls, s)) == 1 for s in sent), "each exactly once"
