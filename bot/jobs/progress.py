"""Showing where each open job stands: its queue place, its seconds, its percentage.

One tick every `every()` seconds works out every queue place in one pass and edits only the messages
whose view changed; an edit never waits on another, and a failed one never ends its job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.jobs.model import JobStatus
from bot.jobs.state import Active, Board, Phase, ProgressView

log = logging.getLogger(__name__)


class ProgressShow:
    def __init__(self, board: Board, every: Callable[[], float]) -> None:
        self.board = board
        self.every = every

    def show_all(self) -> None:
        places = self.board.queue.places()
        for active in list(self.board.active.values()):
            self.show(active, places)

    def show(self, active: Active, places: dict[int, int]) -> None:
        if self.board.sink is None or active.message_lock.locked():
            return
        view = self.view(active, places)
        if view is None or view == active.shown:
            return
        self.board.spawn(self.send(active, view))

    def view(self, active: Active, places: dict[int, int]) -> ProgressView | None:
        restarting = not self.board.accepting
        estimate = active.job.estimate
        cost = {} if estimate is None else {"estimate": estimate, "currency": self.board.settings.currency}
        if active.phase is Phase.WAITING:
            ahead = places.get(active.job.id, 0)
            return ProgressView(JobStatus.QUEUED, ahead=ahead, restarting=restarting, **cost)
        if active.phase is Phase.RUNNING and active.task is None and self.board.remote is not None:
            return None  # a worker runs it and shows its progress
        if active.phase is Phase.RUNNING:
            seconds = time.monotonic() - active.started
            if seconds < self.every() / 2 and active.percent is None:
                return None  # a quick job goes straight to its result, with no edit in between
            return ProgressView(
                JobStatus.RUNNING,
                seconds=int(seconds),
                percent=active.percent,
                preview=active.preview,
                restarting=restarting,
                **cost,
            )
        return None

    async def send(self, active: Active, view: ProgressView) -> None:
        board = self.board
        async with active.message_lock:
            if active.phase not in (Phase.WAITING, Phase.RUNNING) or active.stop == "cancel":
                return
            try:
                message_id = await board.require_sink().progress(active.job, view)
            except Exception as exc:
                # Progress is a courtesy: a failed edit must not end the job, whose result follows.
                log.debug("Job %d: progress not shown (%s)", active.job.id, exc)
                return
            active.shown = view
            if message_id and message_id != active.job.message_id:
                await board.store.update(active.job, message_id=message_id)

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(self.every())
            self.show_all()
