"""Priority queue with aging: strict priority, FIFO within a priority, and a waiting task moves
up one level per ``aging_seconds`` so a flood of ``urgent`` work never starves ``low`` forever.

One FIFO per priority; the best entry is always the head of one of the four, so a pop is O(1)
per level. Removal is lazy (cancelled ids are skipped when they reach a head).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from ..models import Priority

_LEVELS = len(Priority)
_TOP = _LEVELS - 1


@dataclass(slots=True)
class Entry:
    task_id: str
    rank: int
    enqueued_at: float
    seq: int = 0


class AgingQueue:
    """Tasks waiting for a provider slot, per priority level."""

    def __init__(self, aging_seconds: float) -> None:
        self.aging = aging_seconds
        self._levels: list[deque[Entry]] = [deque() for _ in range(_LEVELS)]
        self._removed: set[str] = set()
        self._members: set[str] = set()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._members

    def push(self, task_id: str, rank: int, now: float) -> None:
        if task_id in self._members:
            return
        self._removed.discard(task_id)
        self._members.add(task_id)
        self._levels[rank].append(Entry(task_id, rank, now, next(self._seq)))

    def remove(self, task_id: str) -> bool:
        if task_id not in self._members:
            return False
        self._members.discard(task_id)
        self._removed.add(task_id)
        return True

    def effective_rank(self, entry: Entry, now: float) -> int:
        return min(_TOP, entry.rank + int((now - entry.enqueued_at) / self.aging))

    def _head(self, level: int) -> Entry | None:
        q = self._levels[level]
        while q and q[0].task_id in self._removed:
            self._removed.discard(q.popleft().task_id)
        return q[0] if q else None

    def peek(self, now: float) -> Entry | None:
        """The entry to dispatch next: highest effective rank, then oldest."""
        best: Entry | None = None
        best_key: tuple[int, float, int] | None = None
        for level in range(_TOP, -1, -1):
            head = self._head(level)
            if head is None:
                continue
            key = (self.effective_rank(head, now), -head.enqueued_at, -head.seq)
            if best_key is None or key > best_key:
                best, best_key = head, key
        return best

    def pop(self, now: float) -> Entry | None:
        entry = self.peek(now)
        if entry is not None:
            self._levels[entry.rank].popleft()
            self._members.discard(entry.task_id)
        return entry

    def depth(self) -> dict[str, int]:
        """Waiting tasks per (base) priority."""
        counts = dict.fromkeys((p.value for p in Priority), 0)
        names = [p.value for p in sorted(Priority, key=lambda p: p.rank)]
        for level, q in enumerate(self._levels):
            counts[names[level]] = sum(1 for e in q if e.task_id not in self._removed)
        return counts
