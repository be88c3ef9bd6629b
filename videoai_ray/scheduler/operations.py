"""What users ask of the Scheduler besides submitting: cancel, retry, budgets, providers, live
numbers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..errors import InvalidTransition, TaskNotFound
from ..models import EventType, TaskStatus
from ..models.record import active_from_task
from ..providers.base import Provider

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .outcomes import Outcomes
    from .remote_jobs import RemoteJobs
    from .state import SchedulerState


class Operations:
    """The Scheduler's user-facing operations (each one a public method of the actor)."""

    def __init__(self, state: SchedulerState, outcomes: Outcomes, dispatcher: Dispatcher,
                 remote_jobs: RemoteJobs) -> None:
        self.state = state
        self.outcomes = outcomes
        self.dispatcher = dispatcher
        self.remote_jobs = remote_jobs

    # -- tasks -------------------------------------------------------------------------------

    def cancel(self, task_ids: list[str], user_id: str | None = None) -> list[dict[str, Any]]:
        s = self.state
        out: list[dict[str, Any]] = []
        for tid in task_ids:
            act = s.active.get(tid)
            if act is None or (user_id is not None and act.user_id != user_id):
                task = s.store.get(tid, user_id)
                if task is None:
                    out.append({"id": tid, "error": TaskNotFound.code})
                else:
                    out.append({"id": tid, "status": task.status.value,
                                "error": InvalidTransition.code if task.status.terminal else None})
                continue
            was_running = act.status is TaskStatus.PROCESSING
            s.unqueue(act)
            self.outcomes.finish(act, TaskStatus.CANCELLED)
            if was_running:
                self.dispatcher.cancel_running(tid)
            self.remote_jobs.cancel(act)
            out.append({"id": tid, "status": TaskStatus.CANCELLED.value, "error": None})
        s.kick()
        return out

    def batch_task_ids(self, batch_id: str, user_id: str | None = None) -> list[str]:
        """The unfinished tasks of a batch (of this user)."""
        return [a.id for a in self.state.active.values()
                if a.batch_id == batch_id and (user_id is None or a.user_id == user_id)]

    def retry(self, task_id: str, user_id: str | None = None) -> dict[str, Any]:
        """Manual retry of a failed (or cancelled) task: it gets a fresh retry budget."""
        s = self.state
        act = s.active.get(task_id)
        if act is not None:
            if user_id is not None and act.user_id != user_id:
                raise TaskNotFound(f"no task {task_id}")  # never tell another user the id exists
            raise InvalidTransition(f"task {task_id} is still {act.status.value}")
        task = s.store.get(task_id, user_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            raise InvalidTransition(f"only failed or cancelled tasks can be retried (task is {task.status.value})")
        fields = s.store.in_flight_fields([task_id]).get(task_id, {})
        options = fields.pop("options", {})
        options.pop("failed_providers", None)
        options.pop("lost_attempts", None)
        act = active_from_task(task, options, **fields)
        act.status = TaskStatus.PENDING
        act.max_retries = task.attempts + s.settings.max_retries
        act.progress = 0.0
        s.change(task_id, status="pending", max_retries=act.max_retries, error_code=None, error_message=None,
                 error_retryable=None, finished_at=None, finish_seq=None, next_attempt_at=None, output=None,
                 progress=0.0, progress_message=None, cache_hit=False, options=options)
        s.enqueue(act, time.monotonic())
        s.events.emit(act, EventType.CREATED)
        s.kick()
        return {"id": task_id, "status": "pending"}

    def is_cancelled(self, task_id: str, attempt: int) -> bool:
        act = self.state.active.get(task_id)
        return act is None or act.attempts != attempt or act.status is not TaskStatus.PROCESSING

    # -- budgets and estimates ---------------------------------------------------------------

    def set_user_budget(self, user_id: str, budget_usd: float | None) -> None:
        """A user's own daily budget (``None``: none of their own); applies from the next attempt."""
        from ..store.budgets import set_user_budget

        set_user_budget(self.state.store.engine, user_id, budget_usd)
        self.state.budgets.forget_user(user_id)

    def estimate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Where prepared submissions would go and what they would cost (see ``scheduler.estimate``)."""
        from .estimate import estimate_chunk

        return estimate_chunk(self.state.registry, self.state.settings.strategy, items)

    # -- providers ---------------------------------------------------------------------------

    def register_provider(self, provider: Provider, replace: bool = False, persist: bool = True) -> dict[str, Any]:
        s = self.state
        s.registry.register(provider, replace=replace)
        self.dispatcher.forget_provider(provider.name)
        s.limiter.forget(provider.name)
        if persist:
            from ..store.registrations import save_registration

            save_registration(s.store.engine, s.settings.instance, provider)
        s.kick()
        return next(r for r in self.providers() if r["name"] == provider.name)

    def unregister_provider(self, name: str) -> None:
        from ..store.registrations import delete_registration

        s = self.state
        s.registry.unregister(name)
        self.dispatcher.forget_provider(name)
        s.limiter.forget(name)
        metrics.in_flight(name, 0)
        delete_registration(s.store.engine, s.settings.instance, name)
        s.kick()

    def providers(self) -> list[dict[str, Any]]:
        """The registry's rows (with the model pools') and each provider's rate limiter (declared
        and allowed rate, 429s seen, attempts that waited for it)."""
        s = self.state
        now = time.monotonic()
        return [{**row, **s.limiter.describe(s.registry.get(row["name"]), now)}
                for row in s.registry.describe(now, pools=self.dispatcher.pools.describe())]

    def live_stats(self, user_id: str | None = None) -> dict[str, Any]:
        """Numbers only the scheduler knows: queue depth per priority, in flight, cache; with
        ``user_id``, that user's own fair-share numbers (``fair_share``)."""
        s = self.state
        fair = {"fair_share": s.fair.describe(user_id, list(s.queues.values()))} if user_id else {}
        return {**fair,
            "queue_depth": s.queue_depth(),
            "queue_by_route": {route: len(q) for route, q in s.queues.items()},
            "delayed": len(s.delayed),
            "active": len(s.active),
            "in_flight": self.dispatcher.in_flight(),
            "providers": self.providers(),
            "cache": s.cache.stats() if s.cache is not None else {},
            "strategy": s.settings.strategy.value,
        }

    def cache_stats(self) -> dict[str, Any]:
        return self.state.cache.stats() if self.state.cache is not None else {"enabled": False}


__all__ = ["Operations"]
