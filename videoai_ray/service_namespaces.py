"""The door's namespaces: ``service.tasks``, ``service.batches``, ``service.budgets``,
``service.webhooks``, ``service.providers`` and ``service.monitor`` (pipelines, schedules,
experiments, models and tenants have their own packages). Each is a thin object over the
``MediaService``'s store and Scheduler handle; the SDK, the HTTP API and the CLI call them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ray

from .budget_rule import check_budget
from .errors import BatchNotFound, InvalidRequest, InvalidTransition, TaskNotFound
from .models import Task
from .scheduler_calls import call_scheduler
from .stats import compute_statistics
from .store.batches import batch_ids, batch_rows, discard_batch, open_batch, seal_batch, stored_ids
from .version_wait import AsyncVersionWait

if TYPE_CHECKING:
    from .service import MediaService

#: retries in flight at a time in ``retry_many``
RETRY_CHUNK = 1000
#: rows as the store and the HTTP API give them (an alias: namespaces have a method named ``list``)
Rows = list[dict[str, Any]]
TaskList = list[Task]
Ids = list[str]
#: ``(id, status, seq)`` and ``(id, status, provider)`` of a batch's tasks
Finished = list[tuple[str, str, int]]
States = list[tuple[str, str, str | None]]


class _Namespace:
    def __init__(self, media: MediaService) -> None:
        self.media = media

    @property
    def scheduler(self) -> Any:
        return self.media.scheduler

    def flush(self) -> None:
        """Wait for the Scheduler's writes so far to be committed."""
        ray.get(self.scheduler.flush_now.remote())


class TaskOps(_Namespace):
    """Read, wait on, cancel and retry tasks (``service.tasks``)."""

    def get(self, task_id: str, user_id: str | None = None) -> Task:
        task = self.media.store.get(task_id, user_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        return task

    def get_many(self, task_ids: Sequence[str]) -> TaskList:
        """Tasks by id, in that order (ids not stored are left out)."""
        return self.media.store.get_many(task_ids)

    def list(self, user_id: str | None, *, status: str | None = None, task_type: str | None = None,
             batch_id: str | None = None, limit: int = 50, before: Any = None,
             user_prefix: str | None = None) -> TaskList:
        """The user's tasks, newest first; ``before``: a page cursor (``api.views.decode_cursor``);
        ``user_prefix``: every user's whose id starts with it (a tenant admin's ``acme/``)."""
        return self.media.store.list(user_id=user_id, status=status, task_type=task_type, batch_id=batch_id,
                                     limit=limit, before=before, user_prefix=user_prefix)

    def wait(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """The task once it is done, or as it is when ``timeout`` passes (check ``task.done``)."""
        return self.media.wait_done(lambda: self.get(task_id, user_id), timeout)

    async def wait_async(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """``wait`` for async code: the event loop keeps running (store reads go to a thread)."""
        wait = await AsyncVersionWait.start(self.media.version_async, timeout)
        return await wait.until_done(lambda: asyncio.to_thread(self.get, task_id, user_id))

    def cancel(self, task_id: str, user_id: str | None = None) -> Task:
        [res] = self.cancel_many([task_id], user_id)
        if res.get("error") == TaskNotFound.code:
            raise TaskNotFound(f"no task {task_id}")
        self.flush()
        return self.get(task_id)

    def cancel_many(self, task_ids: Sequence[str], user_id: str | None = None) -> Rows:
        """Cancel tasks; per id ``{"id", "status"}`` or ``{"id", "error"}``."""
        return list(call_scheduler(lambda: ray.get(self.scheduler.cancel.remote(list(task_ids), user_id))))

    def retry(self, task_id: str, user_id: str | None = None) -> Task:
        call_scheduler(lambda: ray.get(self.scheduler.retry.remote(task_id, user_id)))
        self.flush()
        return self.get(task_id)

    def retry_many(self, task_ids: Sequence[str], user_id: str | None = None) -> int:
        """Retry failed tasks, ``RETRY_CHUNK`` calls in flight at a time; how many were retried
        (one retried meanwhile by someone else is no longer failed, and is skipped)."""
        retried = 0
        for start in range(0, len(task_ids), RETRY_CHUNK):
            refs = [self.scheduler.retry.remote(tid, user_id) for tid in task_ids[start:start + RETRY_CHUNK]]
            for ref in refs:
                try:
                    call_scheduler(lambda ref=ref: ray.get(ref))
                    retried += 1
                except InvalidTransition:
                    pass
        if retried:
            self.flush()
        return retried


class BatchOps(_Namespace):
    """A batch's row (open, seal, discard), its tasks and counts, and cancelling it (``service.batches``)."""

    def open(self, batch_id: str, user_id: str, expected: int | None, budget_usd: float | None = None) -> None:
        """Record a batch before its first task is sent (``expected``: its size, when known)."""
        store = self.media.store
        open_batch(store.engine, batch_id, user_id, expected, check_budget(budget_usd), instance=store.instance)

    def seal(self, batch_id: str, sent: int | None = None) -> None:
        """Every item of the batch was sent (``sent`` of them)."""
        seal_batch(self.media.store.engine, batch_id, sent)

    def discard(self, batch_id: str) -> None:
        """Forget a batch row whose tasks were not stored (or belong to another batch)."""
        discard_batch(self.media.store.engine, batch_id)

    def list(self, user_id: str | None, limit: int = 100, *, user_prefix: str | None = None) -> Rows:
        """The user's batches (or every owner's under ``user_prefix``), newest first (see
        ``store.batches.batch_rows``)."""
        return self._rows(user_id, limit=limit, user_prefix=user_prefix)

    def get(self, batch_id: str, user_id: str | None, *, user_prefix: str | None = None) -> dict[str, Any]:
        """One of the user's batches (or of an owner under ``user_prefix``); ``BatchNotFound`` for
        an unknown id or another user's."""
        rows = self._rows(user_id, batch_id, user_prefix=user_prefix)
        if not rows:
            raise BatchNotFound(f"no batch {batch_id}")
        return rows[0]

    def _rows(self, user_id: str | None, batch_id: str | None = None, **kw: Any) -> Rows:
        return batch_rows(self.media.store.engine, user_id, batch_id, instance=self.media.store.instance, **kw)

    def task_ids(self, row: dict[str, Any]) -> Sequence[str]:
        """The task ids of a batch (a ``get`` row)."""
        return batch_ids(self.media.store.engine, row)

    def stored_ids(self, batch_id: str) -> Ids:
        """The ids of a batch's tasks that are stored."""
        return stored_ids(self.media.store.engine, batch_id)

    def counts(self, batch_id: str) -> dict[str, int]:
        """A batch's tasks per status; ``not_submitted``: items its driver meant to send but did not."""
        counts = self.media.store.status_counts(batch_id=batch_id)
        rows = self._rows(None, batch_id)
        if rows and rows[0]["missing"]:
            counts["not_submitted"] = rows[0]["missing"]
        return counts

    def cost(self, batch_id: str) -> float | None:
        """What a batch's tasks cost so far, in USD (``None``: no batch row, e.g. an old batch)."""
        rows = self._rows(None, batch_id)
        return float(rows[0]["cost_usd"]) if rows else None

    def finished_since(self, batch_id: str, cursor: int) -> Finished:
        """``(id, status, seq)`` of a batch's tasks that finished after ``cursor`` (a ``seq``)."""
        return self.media.store.finished_since(batch_id, cursor)

    def states(self, batch_id: str, statuses: Sequence[str]) -> States:
        """``(id, status, provider)`` of a batch's tasks in one of ``statuses``."""
        return self.media.store.batch_states(batch_id, statuses)

    def cancel(self, batch_id: str, user_id: str | None = None) -> Rows:
        """Cancel every unfinished task of a batch."""
        return list(call_scheduler(lambda: ray.get(self.scheduler.cancel_batch.remote(batch_id, user_id))))


class BudgetOps(_Namespace):
    """A user's daily budget and what it spent (``service.budgets``)."""

    def get(self, user_id: str) -> dict[str, Any]:
        """The user's own daily budget, the deployment's cap, the one that applies, today's spend."""
        from .store.budgets import day_start, get_user_budget, spent

        engine = self.media.store.engine
        own = get_user_budget(engine, user_id)
        cap = self.media.settings.user_daily_budget_usd
        limits = [b for b in (own, cap) if b is not None]
        return {"budget_usd": own, "deployment_cap_usd": cap, "effective_usd": min(limits) if limits else None,
                "spent_today_usd": round(spent(engine, user_id=user_id, since=day_start()), 6)}

    def set(self, user_id: str, budget_usd: float | None) -> dict[str, Any]:
        """Set the user's own daily budget (``None`` removes it); checked before every attempt."""
        check_budget(budget_usd)
        call_scheduler(lambda: ray.get(self.scheduler.set_user_budget.remote(user_id, budget_usd)))
        return self.get(user_id)

    def spend(self, user_id: str | None, days: int = 30, *, user_prefix: str | None = None) -> Rows:
        """The user's (or every owner's under ``user_prefix``) spend per UTC day and provider,
        newest first."""
        from .store.budgets import spend_rows

        if not 1 <= days <= 366:
            raise InvalidRequest("days: must be from 1 to 366", field="days")
        return spend_rows(self.media.store.engine, user_id, days, user_prefix)


class WebhookOps(_Namespace):
    """A user's webhook deliveries and signing secret, a tenant's default one (``service.webhooks``)."""

    def deliveries(self, user_id: str, task_id: str | None = None, *, status: str | None = None,
                   limit: int = 100) -> Rows:
        """The user's webhook deliveries: a task's in event order, or all newest first."""
        from .webhooks import service as webhooks

        store = self.media.store
        return webhooks.list_deliveries(store.engine, user_id, task_id, status=status, limit=limit,
                                        instance=store.instance)

    def delivery(self, webhook_id: str, user_id: str) -> dict[str, Any] | None:
        """One of the user's deliveries with its attempt log (``None``: unknown or another user's)."""
        from .webhooks import service as webhooks

        return webhooks.delivery_status(self.media.store.engine, webhook_id, user_id,
                                        instance=self.media.store.instance)

    def statistics(self, user_id: str | None) -> dict[str, Any]:
        from .webhooks import service as webhooks

        return webhooks.statistics(self.media.store.engine, user_id, instance=self.media.store.instance)

    def redeliver(self, webhook_id: str, user_id: str) -> dict[str, Any] | None:
        """Send one of the user's deliveries again, now (``None``: unknown or another user's)."""
        from .webhooks import service as webhooks
        from .webhooks.dispatcher import wake_dispatcher

        row = webhooks.redeliver(self.media.store.engine, webhook_id, user_id, instance=self.media.store.instance)
        if row is not None:
            wake_dispatcher(self.media.settings)
        return row

    def secret(self, user_id: str, *, rotate: bool = False) -> str:
        """The user's signing secret (``whsec_...``); ``rotate`` makes a new one."""
        from .webhooks.user_secrets import get_user_secret, rotate_user_secret

        return (rotate_user_secret if rotate else get_user_secret)(self.media.store.engine, user_id)

    def tenant_secret(self, tenant: str, *, rotate: bool = False) -> str:
        """The tenant's default signing secret, for its users without one of their own."""
        from .webhooks.user_secrets import tenant_secret

        return tenant_secret(self.media.store.engine, tenant, rotate=rotate)


class ProviderOps(_Namespace):
    """The Scheduler's providers: list them, register one, unregister one (``service.providers``)."""

    def list(self) -> Rows:
        return list(ray.get(self.scheduler.providers.remote()))

    def register(self, provider: Any, *, replace: bool = False) -> dict[str, Any]:
        return dict(call_scheduler(lambda: ray.get(self.scheduler.register_provider.remote(provider, replace))))

    def unregister(self, name: str) -> None:
        call_scheduler(lambda: ray.get(self.scheduler.unregister_provider.remote(name)))


class MonitorOps(_Namespace):
    """Statistics, the Scheduler's live numbers and the store's health (``service.monitor``)."""

    def statistics(self, user_id: str | None = None, *, user_prefix: str | None = None,
                   live_user: str | None = None) -> dict[str, Any]:
        """The statistics of ``user_id``'s work (or of every owner's under ``user_prefix``: a tenant
        admin's view); the Scheduler's live numbers with ``live_user``'s (else ``user_id``'s) own
        fair-share numbers."""
        live = ray.get(self.scheduler.live_stats.remote(live_user or user_id))
        stats = compute_statistics(self.media.store.aggregate(user_id=user_id, user_prefix=user_prefix), live)
        stats["schedules"] = self.media.schedules.statistics(user_id, user_prefix=user_prefix)
        stats["pipelines"] = self.media.pipelines.counts(user_id, user_prefix=user_prefix)
        return stats

    def fair_share(self, user_id: str) -> dict[str, Any]:
        """``user_id``'s own fair-share numbers (see ``scheduler.fairness.FairShare.describe``)."""
        return dict(ray.get(self.scheduler.live_stats.remote(user_id))["fair_share"])

    def cache_stats(self) -> dict[str, Any]:
        return dict(ray.get(self.scheduler.cache_stats.remote()))

    async def cache_stats_async(self) -> dict[str, Any]:
        return dict(await self.scheduler.cache_stats.remote())

    async def live_stats_async(self) -> dict[str, Any]:
        """The Scheduler's in-memory numbers (queue, in flight, providers, cache)."""
        return dict(await self.scheduler.live_stats.remote())

    def ping_store(self) -> str:
        """Run ``SELECT 1`` on the store; its SQL dialect (``sqlite``, ``postgresql``)."""
        from sqlalchemy import text

        engine = self.media.store.engine
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return str(engine.dialect.name)

    def store_problem(self) -> str | None:
        """Why the store cannot serve this version (no schema, an older one), or ``None``."""
        from .store.migrate import schema_problem

        return schema_problem(self.media.store.engine)

    def store_revision(self) -> dict[str, Any]:
        """The store's dialect and schema revision against the newest one (``/health``)."""
        from .store.migrate import current, head_revision

        return {"dialect": self.ping_store(), "revision": current(self.media.store.engine),
                "expected": head_revision()}
