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

Two levels of turns (hierarchical deficit round-robin): users belong to a group (their tenant,
docs/tenants.md), the groups take turns by their weights first, then the users inside the group
whose turn it is take turns by theirs. Users without a tenant are all in the group ``""``, so a
deployment without tenants has one group and the users take turns exactly as above. A group in
``skip`` (a tenant at its cap of attempts in flight) is passed over as a whole.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Callable, Container
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


def _clamp(weight: float) -> float:
    return min(MAX_WEIGHT, max(MIN_WEIGHT, weight))


@dataclass(slots=True)
class QueueEntry:
    task_id: str
    rank: int
    enqueued_at: float
    seq: int = 0
    user: str = ""
    gone: bool = False
    #: the user's group (their tenant, ``owner_prefix``; ``""``: no tenant)
    group: str = ""


def _release(counts: Counter[str], weights: dict[str, float], key: str) -> None:
    """One entry of ``key`` left the queue; a key with none left forgets its weight."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]
        weights.pop(key, None)


class _Turns:
    """Deficit round-robin over keys (the users of one group, or the groups of a level): a key's
    turn adds its weight to its deficit, and it takes entries while the deficit is at least one."""

    __slots__ = ("deficit", "ring")

    def __init__(self) -> None:
        self.ring: deque[str] = deque()
        self.deficit: dict[str, float] = {}

    def join(self, key: str) -> None:
        if key not in self.deficit:
            self.ring.append(key)  # a key with nothing waiting joins at the end of the round
            self.deficit[key] = 0.0

    def _leave_front(self) -> str:
        key = self.ring.popleft()
        del self.deficit[key]
        return key

    def pick(self, weights: dict[str, float], skip: Container[str],
             head_of: Callable[[str], QueueEntry | None]) -> QueueEntry | None:
        """The entry ``head_of`` gives for the key whose turn it is; a key ``head_of`` gives
        nothing for (``None``: all it holds is skipped; ``_EMPTY``: nothing live) is passed over
        (and an empty one leaves). Calling it again without a take changes nothing."""
        ring = self.ring
        skipped = 0
        while ring:
            key = ring[0]
            entry = None if key in skip else head_of(key)
            if entry is _EMPTY:
                self._leave_front()
                continue
            if entry is None:
                if skipped >= len(ring):
                    return None  # every key waiting here is skipped
                skipped += 1  # in a row: a key not skipped resets it, and its deficit grows
                ring.rotate(-1)  # keeps its deficit: its turn resumes once it has room
                continue
            skipped = 0
            if self.deficit[key] < 1.0:
                self.deficit[key] += weights.get(key, 1.0)
                if self.deficit[key] < 1.0:
                    ring.rotate(-1)
                    continue
            return entry
        return None

    def took(self, emptied: bool) -> str | None:
        """The front key took one entry; the key that left the ring when ``emptied``."""
        key = self.ring[0]
        self.deficit[key] -= 1.0
        if emptied:
            return self._leave_front()  # a key that runs out of work forfeits what is left of its deficit
        if self.deficit[key] < 1.0:
            self.ring.rotate(-1)  # its turn is over
        return None


#: ``head_of``'s answer for a key with nothing live left
_EMPTY = QueueEntry("", 0, 0.0)


class _Level:
    """One priority level: a FIFO per user, the users of each group (tenant) taking turns, and
    the groups taking turns first (two-level deficit round-robin). With one group (no tenants)
    it is exactly the users taking turns."""

    __slots__ = ("fifo", "groups", "turns")

    def __init__(self) -> None:
        self.fifo: dict[str, deque[QueueEntry]] = {}
        #: group -> the turns of its users with work waiting
        self.groups: dict[str, _Turns] = {}
        #: the turns of the groups with work waiting
        self.turns = _Turns()

    def add(self, entry: QueueEntry) -> None:
        q = self.fifo.get(entry.user)
        if q is None:
            q = self.fifo[entry.user] = deque()
            users = self.groups.get(entry.group)
            if users is None:
                users = self.groups[entry.group] = _Turns()
                self.turns.join(entry.group)
            users.join(entry.user)
        q.append(entry)

    def head(self, weights: dict[str, float], group_weights: dict[str, float],
             skip: Container[str]) -> QueueEntry | None:
        """The next entry: the head of the FIFO of the user whose turn it is in the group whose
        turn it is; users (and groups) in ``skip`` are passed over."""

        def user_head(user: str) -> QueueEntry | None:
            q = self.fifo[user]
            while q and q[0].gone:
                q.popleft()
            if not q:
                del self.fifo[user]
                return _EMPTY
            return q[0]

        def group_head(group: str) -> QueueEntry | None:
            users = self.groups[group]
            entry = users.pick(weights, skip, user_head)
            if entry is None and not users.ring:
                del self.groups[group]
                return _EMPTY
            return entry

        return self.turns.pick(group_weights, skip, group_head)

    def take(self, entry: QueueEntry) -> None:
        """Pop ``entry``, the head :meth:`head` just returned."""
        q = self.fifo[entry.user]
        q.popleft()
        if not q:
            del self.fifo[entry.user]
        users = self.groups[entry.group]
        users.took(emptied=not q)
        if not users.ring:
            del self.groups[entry.group]
        self.turns.took(emptied=entry.group not in self.groups)

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
        #: the groups' (tenants') weights and waiting tasks
        self._group_weights: dict[str, float] = {}
        self._by_group: Counter[str] = Counter()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._members

    def push(self, task_id: str, rank: int, now: float, user: str = "", weight: float = 1.0, group: str = "",
             group_weight: float = 1.0) -> None:
        """Queue a task of ``user`` of ``group`` (a user is always in the same group);
        ``weight`` (the latest given for the user wins) is its share of turns against the
        other users of the group at the same level, ``group_weight`` the group's against the
        other groups."""
        if task_id in self._members:
            return
        entry = QueueEntry(task_id, rank, now, next(self._seq), user, group=group)
        self._members[task_id] = entry
        self._weights[user] = _clamp(weight)
        self._by_user[user] += 1
        self._group_weights[group] = _clamp(group_weight)
        self._by_group[group] += 1
        self._levels[rank].add(entry)

    def reweigh(self, group: str, weight: float) -> None:
        """A group's weight changed (its tenant's limits): its next turns use it."""
        if group in self._group_weights:
            self._group_weights[group] = _clamp(weight)

    def remove(self, task_id: str) -> bool:
        entry = self._members.pop(task_id, None)
        if entry is None:
            return False
        entry.gone = True
        self._left(entry)
        return True

    def _left(self, entry: QueueEntry) -> None:
        _release(self._by_user, self._weights, entry.user)
        _release(self._by_group, self._group_weights, entry.group)

    def effective_rank(self, entry: QueueEntry, now: float) -> int:
        return min(_TOP, entry.rank + int((now - entry.enqueued_at) / self.aging))

    def peek(self, now: float, skip: Container[str] = _NOTHING) -> QueueEntry | None:
        """The entry to dispatch next: of each level's next entry (users and groups in ``skip``
        passed over), the highest effective rank, then the oldest."""
        best: QueueEntry | None = None
        best_key: tuple[int, float, int] | None = None
        for level in range(_TOP, -1, -1):
            head = self._levels[level].head(self._weights, self._group_weights, skip)
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
            self._left(entry)
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
