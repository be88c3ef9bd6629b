"""The Scheduler's state: the one object its parts share (see ``actor.py``).

It holds the services the parts call (store, registry, rate limiter, budgets, event sink, cache)
and the task state they change: the unfinished tasks, their queues, the retries waiting for their
time, and the column changes waiting for the next write. Its methods are the few changes every
part makes the same way; each part keeps its own bookkeeping (the dispatcher its executors, the
writer its version) and reaches the others only through their public methods.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..models.record import Active
from ..redact import public_message
from ..tenants.ids import owner_prefix
from .outage import StoreWatch
from .queue import AgingQueue
from .tenant_limits import TenantLimitBook

if TYPE_CHECKING:
    from ..attempts import Sink
    from ..providers.registry import ProviderRegistry
    from ..settings import Settings
    from ..store import TaskStore
    from .budgets import BudgetLedger
    from .caching import TaskCache
    from .events import EventSink
    from .fairness import FairShare
    from .ratelimit import ProviderRateLimiter


@dataclass(eq=False)
class SchedulerState:
    settings: Settings
    store: TaskStore
    registry: ProviderRegistry
    limiter: ProviderRateLimiter
    budgets: BudgetLedger
    events: EventSink
    cache: TaskCache | None
    #: fair sharing between users: weights, caps and attempts in flight per user
    fair: FairShare
    #: the head node's artifact sink (executors on other nodes write artifacts through it)
    sink: Sink
    #: the last finish sequence number given (batches read finished tasks in this order)
    finish_seq: int = 0
    #: every unfinished task, by id
    active: dict[str, Active] = field(default_factory=dict)
    #: one aging priority queue per route (``Active.route``)
    queues: dict[str, AgingQueue] = field(default_factory=dict)
    #: a heap of ``(monotonic time, task id)``: retries waiting for their time
    delayed: list[tuple[float, str]] = field(default_factory=list)
    #: column changes per task id, written at the next flush (newer values win)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: tasks loaded at start whose fate waits for worker adoption
    recovering: set[str] = field(default_factory=set)
    #: a task pinned to an unregistered provider waits until then for its registration
    provider_grace_until: float = 0.0
    #: Ray re-sends the calls in flight when it restarts an actor; only then can a submitted
    #: chunk hold ids that are already stored (ids are fresh uuid4s otherwise)
    resends_possible: bool = False
    #: the tenants' limits, as last read from the store (``fair`` and ``budgets`` read the same book)
    tenants: TenantLimitBook = field(default_factory=TenantLimitBook)
    #: set to wake the dispatch loop (made on the actor's event loop, by ``Dispatcher.loop``)
    wake: asyncio.Event | None = None
    #: whether the store answers; the off-loop call for every store call that can block
    watch: StoreWatch = field(default_factory=lambda: StoreWatch(30.0))

    def enqueue(self, act: Active, now: float) -> None:
        """``act`` waits for a provider in its route's queue."""
        self.active[act.id] = act
        q = self.queues.get(act.route)
        if q is None:
            q = self.queues[act.route] = AgingQueue(self.settings.aging_seconds)
        q.push(act.id, act.priority.rank, now, *self.fair.key(act))

    def tenant_limits_changed(self, tenant: str) -> None:
        """``tenant``'s limits changed (``TenantLimitBook.loop``): its cap, weight and budgets
        are applied anew, and the dispatch loop wakes (a raised cap may let work start)."""
        group = owner_prefix(tenant)
        self.fair.refresh_group(group)
        weight = self.fair.group_weight(group)
        for q in self.queues.values():
            q.reweigh(group, weight)
        self.budgets.tenant_changed(tenant)
        self.kick()

    def unqueue(self, act: Active) -> None:
        """``act`` leaves its route's queue (if it waits there)."""
        q = self.queues.get(act.route)
        if q is not None:
            q.remove(act.id)

    def change(self, task_id: str, **values: Any) -> None:
        """Columns of a task to write at the next flush (an error message as it may be shown)."""
        if values.get("error_message"):
            values["error_message"] = public_message(values["error_message"], shared=False)
        self.changes.setdefault(task_id, {"id": task_id}).update(values)

    def next_finish_seq(self) -> int:
        self.finish_seq += 1
        return self.finish_seq

    def kick(self) -> None:
        """Wake the dispatch loop: something may start now."""
        if self.wake is not None:
            self.wake.set()

    def queue_depth(self) -> dict[str, int]:
        """Queued tasks per priority, over every route."""
        depth: dict[str, int] = defaultdict(int)
        for q in self.queues.values():
            for prio, n in q.depth().items():
                depth[prio] += n
        return dict(depth)


__all__ = ["Active", "SchedulerState"]
