"""A worker's queue entries (bot/jobs/worker_runs.py), apart from the queue and the journal."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bot.jobs.worker_runs import WorkerRuns


def worker() -> WorkerRuns:
    board: Any = SimpleNamespace(claim_delivery=None, active={}, accepting=True)
    return WorkerRuns(board, Any, Any, Any, SimpleNamespace(heartbeat=2.0), 1)  # type: ignore[arg-type]


async def test_a_second_entry_for_a_job_this_worker_runs_does_not_run_it_again() -> None:
    runs = worker()
    entered: list[int] = []
    release, started = asyncio.Event(), asyncio.Event()

    async def entry(job_id: int) -> None:
        entered.append(job_id)
        started.set()
        await release.wait()

    runs._entry = entry  # type: ignore[method-assign]
    first = asyncio.create_task(runs.run(7))
    await started.wait()
    await asyncio.wait_for(runs.run(7), 1)  # ends at once, the first run going on
    assert entered == [7] and not first.done()
    release.set()
    await first
    # Once the first run is over, a later entry for the job is taken up again (it finds the
    # journal's word: let go, nothing to do).
    release.clear()
    started.clear()
    later = asyncio.create_task(runs.run(7))
    await started.wait()
    release.set()
    await later
    assert entered == [7, 7]
