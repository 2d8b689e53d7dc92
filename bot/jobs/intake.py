"""Fetching and preparing members' pictures for an accepted job, a few at a time.

A download is held whole in memory while it is decoded, so the intake bounds how many run at once
and lets a big one run alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.errors import PictureGone
from bot.jobs.state import Active, Board
from bot.request import Exchange, InputImage
from bot.service import Plan

INTAKE_AT_ONCE = 2
BIG_INTAKE_BYTES = 8 * 1024 * 1024


class Intake:
    def __init__(self, board: Board) -> None:
        self.board = board
        self._slots = asyncio.Semaphore(INTAKE_AT_ONCE)
        self._big = asyncio.Lock()

    async def prepare(self, active: Active) -> tuple[InputImage, ...]:
        """The job's pictures, ready for its model; kept on disk too, so a restart need not fetch them."""
        board, job = self.board, active.job
        route, _ = board.service.route(job.model)
        # A big download takes the whole intake to itself: two 20 MB photos decoded side by side
        # would double the bot's peak memory for a small gain in speed.
        declared = sum(source.size or 0 for source in job.request.sources)
        slots = INTAKE_AT_ONCE if declared > BIG_INTAKE_BYTES else 1
        plan = Plan(job.request, route, job.notes)
        active.history = await self.conversation(active)
        async with self._take(slots):
            images = await self._from_parent(plan)
            if images is None:
                # A conversation carries the parent's picture in its last answer already.
                kept = () if active.history else await self._parent_picture(plan)
                images = await board.service.load(plan, kept)
        await board.files.save_inputs(job.id, images)
        active.images = images
        return images

    async def _from_parent(self, plan: Plan) -> tuple[InputImage, ...] | None:
        """A reroll sends its parent's own prepared inputs again, when they are still kept."""
        parent = plan.request.parent
        if parent is None or parent.uses_picture:
            return None
        return await self.board.files.load_inputs(parent.job_id)

    async def _parent_picture(self, plan: Plan) -> tuple[bytes, ...]:
        parent = plan.request.parent
        if parent is None or not parent.uses_picture:
            return ()
        data = await self.board.files.load_picture(parent.job_id, parent.index)
        if data is None:
            raise PictureGone(f"job {parent.job_id} picture {parent.index}", hours=self._hours())
        return (data,)

    def _hours(self) -> int:
        return round(self.board.settings.result_retention_hours)

    async def conversation(self, active: Active) -> tuple[Exchange, ...]:
        """The earlier turns an edit of a conversing model's own result sends back, if kept."""
        job, board = active.job, self.board
        parent = job.request.parent
        if parent is None or not parent.uses_picture or not board.service.converses(job.model):
            return ()
        earlier = await board.store.get(parent.job_id)
        if earlier is None or earlier.model != job.model:
            return ()  # signatures belong to the model (and route) that made them
        return await board.files.load_conversation(parent.job_id)

    async def images_for(self, active: Active) -> tuple[InputImage, ...]:
        """The pictures for a run: from memory, else from disk (after a restart), else fetched again."""
        if active.images is not None or not active.job.request.takes_pictures:
            return active.images or ()
        stored = await self.board.files.load_inputs(active.job.id)
        active.history = await self.conversation(active)
        if stored is None:
            # Accepted but not prepared before a restart: fetch the pictures now.
            return await self.prepare(active)
        active.images = stored
        return stored

    @contextlib.asynccontextmanager
    async def _take(self, count: int) -> AsyncIterator[None]:
        # Big intakes take their slots one by one under a lock, so two of them never each hold
        # half of what they need.
        async with self._big if count > 1 else contextlib.nullcontext():
            for _ in range(count):
                await self._slots.acquire()
        try:
            yield
        finally:
            for _ in range(count):
                self._slots.release()
