"""Recovery at start: every unfinished task is loaded from the store, the attempts that surviving
(detached) workers still own are adopted, and the rest is queued again: a task the store says is
processing and that no surviving worker owns lost its attempt (it ran in a CPU task or a pool
actor of the previous Scheduler, or on a worker that died with it), and runs again as a lost
attempt (``Outcomes.fail_or_retry``), which does not count against its retries."""

from __future__ import annotations

import heapq
import logging
import time
from typing import TYPE_CHECKING, Any

from ..clock import utcnow
from ..errors import WorkerLost
from ..models import Task, TaskStatus
from ..models.record import active_from_task

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")


class Recovery:
    """``read`` and ``load`` (once the store answers, ``Startup``) and ``adopt`` (the first turn of
    the loops that start then)."""

    def __init__(self, state: SchedulerState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    def read(self) -> tuple[list[Task], dict[str, dict[str, Any]]]:
        """Every unfinished task found in the store, and what its in-flight state needs (reads
        only: it runs in a thread, see ``Startup``)."""
        unfinished = self.state.store.unfinished()
        return unfinished, self.state.store.in_flight_fields([t.id for t in unfinished])

    def load(self, unfinished: list[Task], fields: dict[str, dict[str, Any]]) -> None:
        """Take in the tasks ``read`` found; ``adopt`` then decides which ones a surviving worker
        still runs and queues the others."""
        s = self.state
        for task in unfinished:
            act = active_from_task(task, **fields.get(task.id, {}))
            s.active[act.id] = act
            s.recovering.add(act.id)
        if unfinished:
            log.info("recovered %d unfinished tasks from the store", len(unfinished))

    async def adopt(self) -> None:
        """Take over the attempts that surviving workers run, queue every other recovered task,
        then let dispatch begin."""
        s = self.state
        try:
            adopted = await self.dispatcher.adopt_workers()
        except Exception:
            log.error("worker adoption failed; recovered tasks run again", exc_info=True)
            adopted = {}
        now = time.monotonic()
        for tid in list(s.recovering):
            act = s.active.get(tid)
            if act is None:
                continue
            if tid in adopted:
                attempt, provider = adopted[tid]
                act.status, act.attempts, act.provider = TaskStatus.PROCESSING, attempt, provider
                # counts towards its user's cap and holds its budget estimate (the policies' on_adopt)
                self.dispatcher.adopt_attempt(tid, attempt, provider)
                s.change(tid, status=act.status.value, attempts=attempt, provider=provider)
            elif act.status is TaskStatus.PROCESSING and act.attempts:
                self.dispatcher.outcomes.fail_or_retry(act, WorkerLost(
                    f"attempt {act.attempts} was lost with the Scheduler that ran it (no surviving worker holds it)"))
            elif act.status is TaskStatus.RETRYING:
                task = s.store.get(tid)
                due = task.next_attempt_at if task else None
                wait = (due - utcnow()).total_seconds() if due else 0.0
                heapq.heappush(s.delayed, (now + max(0.0, wait), tid))
            else:
                act.status = TaskStatus.PENDING
                s.enqueue(act, now)
        s.recovering.clear()
        s.kick()


__all__ = ["Recovery"]
