"""Fair turn-taking: members take turns, so one member's ten jobs do not starve the others.

Each member has a line of their own; the queue serves the lines round-robin, and a member who was
just served goes to the back. Pure bookkeeping, no I/O: the engine decides when a slot is free.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    job_id: int
    user_id: int
    keys: tuple[str, ...]  # what per-format and per-model caps count (format name, model name)


class FairQueue:
    def __init__(self) -> None:
        self._lines: OrderedDict[int, deque[Entry]] = OrderedDict()
        self._where: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._where

    def push(self, entry: Entry) -> None:
        self._lines.setdefault(entry.user_id, deque()).append(entry)
        self._where[entry.job_id] = entry

    def remove(self, job_id: int) -> bool:
        entry = self._where.pop(job_id, None)
        if entry is None:
            return False
        line = self._lines[entry.user_id]
        line.remove(entry)
        if not line:
            del self._lines[entry.user_id]
        return True

    def pop(self, allowed: Callable[[Entry], bool] = lambda entry: True) -> Entry | None:
        """The next job to run: in the first line in turn that has one, the oldest job `allowed`
        lets start. A member whose oldest job waits for a capped format is served a later one."""
        for user_id, line in self._lines.items():
            entry = next((candidate for candidate in line if allowed(candidate)), None)
            if entry is None:
                continue
            line.remove(entry)
            del self._where[entry.job_id]
            del self._lines[user_id]
            if line:
                self._lines[user_id] = line  # back of the turn order
            return entry
        return None

    def places(self) -> dict[int, int]:
        """How many queued jobs will be served before each one (caps aside), all in one pass."""
        order: list[int] = []
        lines = [list(line) for line in self._lines.values()]
        for depth in range(max((len(line) for line in lines), default=0)):
            order.extend(line[depth].job_id for line in lines if depth < len(line))
        return {job_id: place for place, job_id in enumerate(order)}
