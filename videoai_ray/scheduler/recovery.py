"""Recovery at start: every unfinished task is loaded from the store, the attempts that surviving
(detached) workers still own are adopted, and the rest is queued again."""

from __future__ import annotations

import heapq
import logging
import time
from typing import TYPE_CHECKING

from ..models import TaskStatus
from ..store import utcnow
from .state import active_from_task

if TYPE_CHECKING:
    from .actor import Scheduler

log = logging.getLogger("videoai.scheduler")


class RecoveryMixin:
    """The Scheduler's ``_recover`` (in ``__init__``) and ``_adopt`` (first loop turn)."""

    def _recover(self: Scheduler) -> None:  # type: ignore[misc]
        """Load every unfinished task found in the store; ``_adopt`` then decides which ones a
        surviving worker still runs and queues the others."""
        unfinished = self.store.unfinished()
        ids = [t.id for t in unfinished]
        options = self.store.options_for(ids)
        jobs = self.store.remote_jobs_for(ids)
        for task in unfinished:
            act = active_from_task(task, options.get(task.id) or {}, remote_job=jobs.get(task.id))
            self.active[act.id] = act
            self.recovering.add(act.id)
        if unfinished:
            log.info("recovered %d unfinished tasks from the store", len(unfinished))

    async def _adopt(self: Scheduler) -> None:  # type: ignore[misc]
        """Take over the attempts that surviving workers run, queue every other recovered task,
        then let dispatch begin."""
        try:
            adopted = await self.dispatcher.adopt_workers()
        except Exception:
            log.error("worker adoption failed; recovered tasks run again", exc_info=True)
            adopted = {}
        now = time.monotonic()
        for tid in list(self.recovering):
            act = self.active.get(tid)
            if act is None:
                continue
            if tid in adopted:
                attempt, provider = adopted[tid]
                act.status, act.attempts, act.provider = TaskStatus.PROCESSING, attempt, provider
                self.dispatcher.running[tid] = (attempt, provider)
                self.fair.started(act)  # fair-share hook
                self.registry.started(provider)
                if provider in self.registry:
                    self.budgets.hold(act, self.registry.get(provider))
                self.change(tid, status=act.status.value, attempts=attempt, provider=provider)
            elif act.status is TaskStatus.RETRYING:
                task = self.store.get(tid)
                due = task.next_attempt_at if task else None
                wait = (due - utcnow()).total_seconds() if due else 0.0
                heapq.heappush(self.delayed, (now + max(0.0, wait), tid))
            else:
                act.status = TaskStatus.PENDING
                self._enqueue(act, now)
        self.recovering.clear()
        self.kick()
