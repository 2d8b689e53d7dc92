"""Fetching and preparing members' pictures for an accepted job, a few at a time.

A download is held whole in memory while it is decoded, so the intake bounds how many run at once
and lets a big one run alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.jobs.state import Active, Board
from bot.request import Exchange, GenerateRequest, InputImage, Parent
from bot.service import Plan

INTAKE_AT_ONCE = 2
# Rerolls of rerolls are followed back this far to the picture they all started from.
MAX_REROLL_CHAIN = 20
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
        source, reused = await self._source(job.request)
        active.history = await self._conversation(active, source)
        async with self._take(slots):
            if reused is not None:
                images = reused
            else:
                # A conversation carries the parent's picture in its last answer already.
                kept = () if active.history else await self._picture(source)
                images = await board.service.load(plan, kept)
        await board.files.save_inputs(job.id, images)
        active.images = images
        return images

    async def _source(self, request: GenerateRequest) -> tuple[Parent | None, tuple[InputImage, ...] | None]:
        """Where a job's kept pictures come from: the earlier result whose picture it works on, or
        for a reroll the rerolled job's own prepared inputs. A reroll of a result that was itself
        made from a picture (a variation, an edit) goes back to that picture, so the reroll sends
        exactly what the result's own request sent."""
        parent = request.parent
        for _ in range(MAX_REROLL_CHAIN):
            if parent is None or parent.uses_picture:
                return parent, None
            inputs = await self.board.files.load_inputs(parent.job_id)
            if inputs:
                return None, inputs
            earlier = await self.board.store.get(parent.job_id)
            parent = earlier.request.parent if earlier is not None else None
        return None, None

    async def _picture(self, source: Parent | None) -> tuple[bytes, ...]:
        if source is None:
            return ()
        data = await self.board.files.load_picture(source.job_id, source.index)
        if data is None:
            raise self.board.picture_gone(f"job {source.job_id} picture {source.index}")
        return (data,)

    async def _conversation(self, active: Active, source: Parent | None) -> tuple[Exchange, ...]:
        """The earlier turns an edit of a conversing model's own result sends back, if kept."""
        job, board = active.job, self.board
        if source is None or not board.service.converses(job.model):
            return ()
        earlier = await board.store.get(source.job_id)
        if earlier is None or earlier.model != job.model:
            return ()  # signatures belong to the model (and route) that made them
        return await board.files.load_conversation(source.job_id)

    async def images_for(self, active: Active) -> tuple[InputImage, ...]:
        """The pictures for a run: from memory, else from disk (after a restart), else fetched again."""
        if active.images is not None or not active.job.request.takes_pictures:
            return active.images or ()
        stored = await self.board.files.load_inputs(active.job.id)
        active.history = await self._conversation(active, (await self._source(active.job.request))[0])
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
