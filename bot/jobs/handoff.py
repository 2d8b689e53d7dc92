"""A gateway process's side of the run: its jobs wait here in fair turns and go to the workers
through the queue when the whole bot has room (bot/jobs/shared.py counts it), one claim at a time.

The gateway shows a waiting job's place; once the job is dispatched, the worker that runs it shows
everything else (progress, the card, a failure, a cancel). The hand-over is ordered by the job's
message lock: a place edit under way lands before the job is dispatched, and none follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.errors import BotError
from bot.jobqueue import JobQueue
from bot.jobs.queue import Entry
from bot.jobs.shared import SharedJournal
from bot.jobs.state import Active, Board, Phase

log = logging.getLogger(__name__)

# How often a gateway looks at the journal when no wake-up came (a missed NOTIFY, a dead worker).
LOOK_EVERY = 1.0


class Handoff:
    def __init__(self, board: Board, journal: SharedJournal, queue: JobQueue) -> None:
        self.board = board
        self.journal = journal
        self.queue = queue
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        # Whether the queue answered at the last try: while it does not, new commands are refused
        # with "try again in a minute" (the journal keeps what was accepted before).
        self.queue_ok = True

    def kick(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        try:
            await self.journal.listen(self.kick)
        except Exception as exc:  # no wake-ups: the gateway still looks every second
            log.warning("Gateway: no wake-ups from the journal (%s); looking every %g s", exc, LOOK_EVERY)
        self._task = asyncio.create_task(self._loop(), name="gateway-handoff")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.journal.stop_listening()

    async def cancel(self, active: Active) -> None:
        job = active.job
        user = job.cancelled_by if job.cancelled_by is not None else job.origin.user_id
        try:
            if await self.journal.mark_cancelled(job.id, user):
                await self.queue.cancel(job.id)
        except Exception as exc:
            # The worker also reads the journal's cancels; a queue that missed it changes nothing.
            log.warning(
                "Job %d: the cancel did not reach the queue (%s: %s)", job.id, type(exc).__name__, exc
            )

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOOK_EVERY):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._look()
                await self._dispatch()
                await self._sweep()
            except Exception as exc:  # the journal or queue away: the next look tries again
                log.warning("Gateway: jobs not handed over now (%s: %s)", type(exc).__name__, exc)

    async def _look(self) -> None:
        """Let go of the jobs the workers ended."""
        board = self.board
        remote = {
            job_id: a for job_id, a in board.active.items() if a.phase is Phase.RUNNING and a.task is None
        }
        if not remote:
            return
        states = {s.id: s for s in await self.journal.states(remote)}
        for job_id, active in remote.items():
            state = states.get(job_id)
            if state is None or state.released:
                self._free(active)
                board.forget(active)

    def _free(self, active: Active) -> None:
        if active.holds_slot:
            active.holds_slot = False
            self.board.running -= 1

    async def _dispatch(self) -> None:
        board, settings = self.board, self.board.settings
        if not board.accepting or not len(board.queue):
            return
        caps = settings.concurrency_limits
        popped: list[Entry] = []
        taken: list[int] = []
        try:
            async with self.journal.claiming(self._keys_of, settings.global_max_concurrent_jobs) as room:
                while room.free > 0:
                    entry = board.queue.pop(lambda e: room.fits(e.keys, caps))
                    if entry is None:
                        break
                    popped.append(entry)
                    active = board.active.get(entry.job_id)
                    if active is None or active.stop:
                        continue  # cancelled while waiting: its cancel ends it here
                    async with active.message_lock:  # a place edit under way lands first
                        if not await room.take(entry.job_id, active.keys):
                            board.forget(active)  # it ended elsewhere meanwhile
                            continue
                        taken.append(entry.job_id)
                        if not active.stop:
                            active.phase = Phase.RUNNING
                            active.started = time.monotonic()
                            active.holds_slot = True
                            board.running += 1
        except BaseException:
            # Nothing of this claim was committed: every job popped waits again, in its place.
            for entry in popped:
                active = board.active.get(entry.job_id)
                if active is not None and not active.stop:
                    self._free(active)
                    active.phase = Phase.WAITING
                    board.queue.push(entry)
            raise
        for job_id in taken:
            try:
                await self.queue.put(job_id)
            except Exception as exc:  # the sweep puts it in once the queue answers again
                self._queue_away(exc)

    async def _sweep(self) -> None:
        """The journal is the truth: a job it holds as dispatched that the queue lost (a Redis
        restarted empty) goes back in. The queue's job keys make this a no-op for the others."""
        now = time.monotonic()
        if now - self._last_sweep < self.journal.heartbeat:
            return
        self._last_sweep = now
        lost = await self.journal.lost()
        try:
            await self.queue.stats()  # asked even when nothing is lost: is the queue there?
            restored = await self.queue.restore(lost)
        except Exception as exc:
            self._queue_away(exc)
            return
        if not self.queue_ok:
            log.info("The queue answers again")
            self.queue_ok = True
        if restored:
            log.warning("The queue had lost %d jobs the journal holds; they are back in it", len(restored))

    def _queue_away(self, exc: Exception) -> None:
        if self.queue_ok:
            log.warning(
                "The queue does not answer (%s: %s); new commands are asked to come back later",
                type(exc).__name__,
                exc,
            )
        self.queue_ok = False

    def _keys_of(self, model: str) -> tuple[str, ...]:
        try:
            route, _ = self.board.service.route(model)
        except BotError:
            return (model,)
        return tuple(dict.fromkeys((route.format, model)))
