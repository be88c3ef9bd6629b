"""Priority queue with aging and fair sharing: strict priority between levels, users taking turns
by weight within a level (deficit round-robin), FIFO within a user, and a waiting task moves up
one level per ``aging_seconds`` so a flood of ``urgent`` work never starves ``low`` forever.

Per level: a FIFO per user and a ring of the users with work waiting. The next entry of a level
is the head of the FIFO of the user at the front of its ring, so a pop is O(1) per level (plus
the users rotated past: those whose turn ends, and those the caller asks to skip because they
are at their cap of attempts in flight). A ring holding one key (every task under the user
``""``) is exactly the strict FIFO per priority. Removal is lazy (a removed entry is skipped when
it reaches a head).

Deficit round-robin with a cost of one per task: a user's turn adds its weight to its deficit
and it takes tasks while the deficit is at least one, so over a round users with weights 3 and 1
take three tasks and one; a weight below one gets a task every few rounds.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Container
from dataclasses import dataclass

from ..models import Priority

_LEVELS = len(Priority)
_TOP = _LEVELS - 1
#: weights are clamped into this range so a turn never needs more than 100 rotations
MIN_WEIGHT = 0.01
MAX_WEIGHT = 1000.0
_NOTHING: frozenset[str] = frozenset()
#: priority names by level (rank)
_NAMES = [p.value for p in sorted(Priority, key=lambda p: p.rank)]


@dataclass(slots=True)
class QueueEntry:
    task_id: str
    rank: int
    enqueued_at: float
    seq: int = 0
    user: str = ""
    gone: bool = False


class _Level:
    """One priority level: a FIFO per user, and the ring of users whose turn comes next."""

    __slots__ = ("deficit", "fifo", "ring")

    def __init__(self) -> None:
        self.fifo: dict[str, deque[QueueEntry]] = {}
        self.ring: deque[str] = deque()
        self.deficit: dict[str, float] = {}

    def add(self, entry: QueueEntry) -> None:
        q = self.fifo.get(entry.user)
        if q is None:
            q = self.fifo[entry.user] = deque()
            self.ring.append(entry.user)  # a user with nothing waiting joins at the end of the round
            self.deficit[entry.user] = 0.0
        q.append(entry)

    def _drop(self, user: str) -> None:
        del self.fifo[user]
        del self.deficit[user]

    def head(self, weights: dict[str, float], skip: Container[str]) -> QueueEntry | None:
        """The next entry: the head of the front user's FIFO once the ring is turned to a user
        with live work, not in ``skip``, whose deficit covers a task. Calling it again without a
        pop changes nothing."""
        ring = self.ring
        skipped = 0
        while ring:
            user = ring[0]
            q = self.fifo[user]
            while q and q[0].gone:
                q.popleft()
            if not q:
                ring.popleft()
                self._drop(user)
                continue
            if user in skip:
                if skipped >= len(ring):
                    return None  # every user waiting here is at their cap
                skipped += 1  # in a row: a user not skipped resets it, and its deficit grows
                ring.rotate(-1)  # keeps its deficit: its turn resumes once it has room
                continue
            skipped = 0
            if self.deficit[user] < 1.0:
                self.deficit[user] += weights.get(user, 1.0)
                if self.deficit[user] < 1.0:
                    ring.rotate(-1)
                    continue
            return q[0]
        return None

    def take(self, entry: QueueEntry) -> None:
        """Pop ``entry``, the head :meth:`head` just returned."""
        user = entry.user
        q = self.fifo[user]
        q.popleft()
        self.deficit[user] -= 1.0
        if not q:
            self.ring.popleft()
            self._drop(user)  # a user who runs out of work forfeits what is left of its deficit
        elif self.deficit[user] < 1.0:
            self.ring.rotate(-1)  # its turn is over

    def live(self) -> int:
        return sum(1 for q in self.fifo.values() for e in q if not e.gone)


class AgingQueue:
    """Tasks waiting for a provider slot, per priority level and per user."""

    def __init__(self, aging_seconds: float) -> None:
        self.aging = aging_seconds
        self._levels = [_Level() for _ in range(_LEVELS)]
        self._members: dict[str, QueueEntry] = {}
        self._weights: dict[str, float] = {}
        self._by_user: Counter[str] = Counter()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._members

    def push(self, task_id: str, rank: int, now: float, user: str = "", weight: float = 1.0) -> None:
        """Queue a task of ``user``; ``weight`` (the latest given for the user wins) is its share
        of turns against the other users of the same level."""
        if task_id in self._members:
            return
        entry = QueueEntry(task_id, rank, now, next(self._seq), user)
        self._members[task_id] = entry
        self._weights[user] = min(MAX_WEIGHT, max(MIN_WEIGHT, weight))
        self._by_user[user] += 1
        self._levels[rank].add(entry)

    def remove(self, task_id: str) -> bool:
        entry = self._members.pop(task_id, None)
        if entry is None:
            return False
        entry.gone = True
        self._left(entry.user)
        return True

    def _left(self, user: str) -> None:
        n = self._by_user[user] - 1
        if n:
            self._by_user[user] = n
        else:
            del self._by_user[user]
            self._weights.pop(user, None)

    def effective_rank(self, entry: QueueEntry, now: float) -> int:
        return min(_TOP, entry.rank + int((now - entry.enqueued_at) / self.aging))

    def peek(self, now: float, skip: Container[str] = _NOTHING) -> QueueEntry | None:
        """The entry to dispatch next: of each level's next entry (users in ``skip`` passed
        over), the highest effective rank, then the oldest."""
        best: QueueEntry | None = None
        best_key: tuple[int, float, int] | None = None
        for level in range(_TOP, -1, -1):
            head = self._levels[level].head(self._weights, skip)
            if head is None:
                continue
            key = (self.effective_rank(head, now), -head.enqueued_at, -head.seq)
            if best_key is None or key > best_key:
                best, best_key = head, key
        return best

    def pop(self, now: float, skip: Container[str] = _NOTHING) -> QueueEntry | None:
        entry = self.peek(now, skip)
        if entry is not None:
            self._levels[entry.rank].take(entry)
            del self._members[entry.task_id]
            self._left(entry.user)
        return entry

    def depth(self) -> dict[str, int]:
        """Waiting tasks per (base) priority."""
        counts = dict.fromkeys((p.value for p in Priority), 0)
        for i, level in enumerate(self._levels):
            counts[_NAMES[i]] = level.live()
        return counts

    def queued(self, user: str) -> int:
        """Tasks of ``user`` waiting here."""
        return self._by_user.get(user, 0)

    def depth_of(self, user: str) -> dict[str, int]:
        """Waiting tasks of ``user`` per (base) priority."""
        out = dict.fromkeys((p.value for p in Priority), 0)
        if user not in self._by_user:
            return out
        for i, level in enumerate(self._levels):
            q = level.fifo.get(user)
            out[_NAMES[i]] = sum(1 for e in q if not e.gone) if q else 0
        return out
