"""What users ask of the Scheduler besides submitting: cancel, retry, providers, live numbers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..errors import InvalidTransition, TaskNotFound
from ..models import EventType, TaskStatus
from ..providers.base import Provider
from .state import active_from_task

if TYPE_CHECKING:
    from .actor import Scheduler


class OperationsMixin:
    """The Scheduler's user-facing operations."""

    # -- user operations ---------------------------------------------------------------------

    async def cancel(self: Scheduler, task_ids: list[str], user_id: str | None = None) -> list[dict[str, Any]]:  # type: ignore[misc]
        out: list[dict[str, Any]] = []
        for tid in task_ids:
            act = self.active.get(tid)
            if act is None or (user_id is not None and act.user_id != user_id):
                task = self.store.get(tid, user_id)
                if task is None:
                    out.append({"id": tid, "error": TaskNotFound.code})
                else:
                    out.append({"id": tid, "status": task.status.value,
                                "error": InvalidTransition.code if task.status.terminal else None})
                continue
            was_running = act.status is TaskStatus.PROCESSING
            q = self.queues.get(act.route)
            if q is not None:
                q.remove(tid)
            self.finish(act, TaskStatus.CANCELLED)
            if was_running:
                self.dispatcher.cancel_running(tid)
            self.cancel_remote_job(act)
            out.append({"id": tid, "status": TaskStatus.CANCELLED.value, "error": None})
        self.kick()
        return out

    async def cancel_batch(self: Scheduler, batch_id: str, user_id: str | None = None) -> list[dict[str, Any]]:  # type: ignore[misc]
        """Cancel every unfinished task of a batch (of this user)."""
        ids = [a.id for a in self.active.values()
               if a.batch_id == batch_id and (user_id is None or a.user_id == user_id)]
        return await self.cancel(ids, user_id) if ids else []

    async def retry(self: Scheduler, task_id: str, user_id: str | None = None) -> dict[str, Any]:  # type: ignore[misc]
        """Manual retry of a failed (or cancelled) task: it gets a fresh retry budget."""
        act = self.active.get(task_id)
        if act is not None:
            if user_id is not None and act.user_id != user_id:
                raise TaskNotFound(f"no task {task_id}")  # never tell another user the id exists
            raise InvalidTransition(f"task {task_id} is still {act.status.value}")
        task = self.store.get(task_id, user_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            raise InvalidTransition(f"only failed or cancelled tasks can be retried (task is {task.status.value})")
        options = self.store.options_for([task_id]).get(task_id) or {}
        options.pop("failed_providers", None)
        act = active_from_task(task, options, remote_job=self.store.remote_jobs_for([task_id]).get(task_id))
        act.status = TaskStatus.PENDING
        act.max_retries = task.attempts + self.settings.max_retries
        act.progress = 0.0
        self.change(task_id, status="pending", max_retries=act.max_retries, error_code=None, error_message=None,
                    error_retryable=None, finished_at=None, finish_seq=None, next_attempt_at=None, output=None,
                    progress=0.0, cache_hit=False, options=options)
        self._enqueue(act, time.monotonic())
        self.events.emit(act, EventType.CREATED)
        self.kick()
        return {"id": task_id, "status": "pending"}

    def is_cancelled(self: Scheduler, task_id: str, attempt: int) -> bool:  # type: ignore[misc]
        act = self.active.get(task_id)
        return act is None or act.attempts != attempt or act.status is not TaskStatus.PROCESSING

    # -- budgets -----------------------------------------------------------------------------

    def set_user_budget(self: Scheduler, user_id: str, budget_usd: float | None) -> None:  # type: ignore[misc]
        """A user's own daily budget (``None``: none of their own); applies from the next attempt."""
        from ..store.budgets import set_user_budget

        set_user_budget(self.store.engine, user_id, budget_usd)
        self.budgets.forget_user(user_id)

    def estimate(self: Scheduler, items: list[dict[str, Any]]) -> dict[str, Any]:  # type: ignore[misc]
        """Where prepared submissions would go and what they would cost (see ``scheduler.estimate``)."""
        from .estimate import estimate_chunk

        return estimate_chunk(self.registry, self.settings.strategy, items)

    # -- providers ---------------------------------------------------------------------------

    async def register_provider(  # type: ignore[misc]
        self: Scheduler, provider: Provider, replace: bool = False, persist: bool = True
    ) -> dict[str, Any]:
        self.registry.register(provider, replace=replace)
        self.dispatcher.forget_provider(provider.name)
        self.limiter.forget(provider.name)
        if persist:
            from ..store.registrations import save_registration

            save_registration(self.store.engine, self.settings.instance, provider)
        self.kick()
        return next(r for r in self.providers() if r["name"] == provider.name)

    async def unregister_provider(self: Scheduler, name: str) -> None:  # type: ignore[misc]
        from ..store.registrations import delete_registration

        self.registry.unregister(name)
        self.dispatcher.forget_provider(name)
        self.limiter.forget(name)
        metrics.in_flight(name, 0)
        delete_registration(self.store.engine, self.settings.instance, name)
        self.kick()

    def providers(self: Scheduler) -> list[dict[str, Any]]:  # type: ignore[misc]
        """The registry's rows (with the model pools') and each provider's rate limiter (declared
        and allowed rate, 429s seen, attempts that waited for it)."""
        now = time.monotonic()
        return [{**row, **self.limiter.describe(self.registry.get(row["name"]), now)}
                for row in self.registry.describe(now, pools=self.dispatcher.pools.describe())]

    def live_stats(self: Scheduler, user_id: str | None = None) -> dict[str, Any]:  # type: ignore[misc]
        """Numbers only the scheduler knows: queue depth per priority, in flight, cache; with
        ``user_id``, that user's own fair-share numbers (``fair_share``)."""
        fair = {"fair_share": self.fair.describe(user_id, list(self.queues.values()))} if user_id else {}
        return {**fair,
            "queue_depth": self._queue_depth(),
            "queue_by_route": {route: len(q) for route, q in self.queues.items()},
            "delayed": len(self.delayed),
            "active": len(self.active),
            "in_flight": self.dispatcher.in_flight(),
            "providers": self.providers(),
            "cache": self.cache.stats() if self.cache is not None else {},
            "strategy": self.settings.strategy.value,
        }

    def cache_stats(self: Scheduler) -> dict[str, Any]:  # type: ignore[misc]
        return self.cache.stats() if self.cache is not None else {"enabled": False}
