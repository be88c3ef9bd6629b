"""MediaService: the one core every entry point calls (SDK, HTTP API, CLI).

It validates bodies into submissions (through ``admission``, which the Scheduler's own runners
share, below this door), sends them to the Scheduler in chunks, and reads tasks and
statistics from the store. Nothing here is specific to HTTP or to notebooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import ray

from .admission import Admission
from .budget_rule import check_budget
from .errors import BatchNotFound, InvalidRequest, InvalidTransition, TaskNotFound, VideoAIError
from .models import Task
from .outage_errors import store_error
from .settings import Settings
from .stats import compute_statistics
from .store import StoreTimeouts, TaskStore
from .store.batches import batch_ids, batch_rows, discard_batch, open_batch, seal_batch, stored_ids
from .version_wait import AsyncVersionWait, VersionWait, Waited

if TYPE_CHECKING:
    from .catalogue.service import ModelService
    from .experiments.service import ExperimentService
    from .pipelines.service import PipelineService
    from .protocol import Submission, SubmitAnswer
    from .schedules.service import ScheduleService
    from .tenants.keys import ProviderKeyService
    from .tenants.lifecycle import TenantLifecycle
    from .tenants.service import TenantService


class MediaService:
    """Submit, read, cancel and retry tasks and batches; budgets, spend, webhooks, providers,
    statistics; pipelines (``self.pipelines``), provider A/B experiments (``self.experiments``)
    and schedules (``self.schedules``). The only owner of the store and of the Scheduler's handle:
    the SDK, the HTTP API and the CLI call these methods (a new feature adds a method here and a
    route or SDK method over it)."""

    def __init__(self, settings: Settings, scheduler: Any, store: TaskStore | None = None, *,
                 migrate: bool = False, resolve_dns: bool = True) -> None:
        """``scheduler``: the Scheduler actor's handle (``None`` for a process that only reads
        tasks, like ``videoai status``); ``migrate``: bring the store's schema up to date;
        ``resolve_dns=False``: URLs are checked by name only, never waiting on DNS (see
        ``Admission``; the worker that fetches an input and the dispatcher that sends a webhook
        check it again, resolved and pinned)."""
        self.settings = settings
        self.scheduler = scheduler
        self.store = store or TaskStore(settings.db_url, migrate=migrate, instance=settings.instance,
                                        timeouts=StoreTimeouts.of(settings))
        #: validation and preparation of submissions, the code the Scheduler's runners share
        self.admission = Admission(settings, self.store, resolve_dns=resolve_dns)
        # the door validates as the Scheduler does: these are the admission's own methods, with
        # their signatures, not copies of them
        #: ``validate(task_type, body, prefix, *, http, user_id)``: the body as its request model
        self.validate = self.admission.validate
        #: ``prepare(task_type, body, *, user_id, ...)``: a submission ready for the Scheduler
        self.prepare = self.admission.prepare
        #: ``prepare_batch(items, *, user_id, batch_id, ...)``: batch items prepared lazily
        self.prepare_batch = self.admission.prepare_batch
        #: the running experiments new tasks may join (``invalidate`` after a create or a stop)
        self.router = self.admission.router

    @cached_property
    def pipelines(self) -> PipelineService:
        """Pipelines of tasks (create, read, wait, cancel): see ``videoai_ray.pipelines``."""
        from .pipelines.service import PipelineService

        return PipelineService(self)

    @cached_property
    def experiments(self) -> ExperimentService:
        """Provider A/B experiments (create, list, get, stop, report): see ``videoai_ray.experiments``."""
        from .experiments.service import ExperimentService

        return ExperimentService(self)

    @property
    def models(self) -> ModelService:
        """The model catalogue (register, list, remove, resolve ``model=``): see ``videoai_ray.catalogue``.
        The admission's own, so a registration shows at once in what ``model=`` resolves."""
        return self.admission.models

    @cached_property
    def schedules(self) -> ScheduleService:
        """Scheduled tasks and pipelines (create, get, list, pause, resume, delete, statistics):
        see ``videoai_ray.schedules``."""
        from .schedules.service import ScheduleService

        return ScheduleService(self)

    @cached_property
    def tenants(self) -> TenantService:
        """The deployment's tenants (create, list, suspend, resume) and whether one may work now
        (``directory``, cached ``tenant_cache_seconds``): see ``videoai_ray.tenants``."""
        from .tenants.service import TenantService

        return TenantService(self.store.engine, self.store.instance, self.settings.tenant_cache_seconds)

    @cached_property
    def tenant_lifecycle(self) -> TenantLifecycle:
        """Export and delete whole tenants (their work in flight cancelled through the Scheduler):
        see ``videoai_ray.tenants.lifecycle``."""
        from .tenants.lifecycle import TenantLifecycle

        return TenantLifecycle(self)

    @cached_property
    def provider_keys(self) -> ProviderKeyService:
        """Tenants' own cloud provider keys, encrypted at rest: see ``videoai_ray.tenants.keys``."""
        from .tenants.keys import ProviderKeyService

        return ProviderKeyService(self.store.engine, self.store.instance, self.settings)

    # -- submitting ------------------------------------------------------------------------------

    def submit(self, prepared: list[Submission], *, return_tasks: bool = False,
               known_ids: bool = False) -> list[SubmitAnswer]:
        """Send prepared submissions (one Scheduler call, one SQL transaction); per item
        ``{"id", "status", "existing", "cache_hit", ...}``."""
        return self.collect(self.send(prepared, return_tasks=return_tasks, known_ids=known_ids))

    def send(self, prepared: list[Submission], *, return_tasks: bool = False, known_ids: bool = False) -> Any:
        """Start a submit and return at once: the reference ``collect`` waits on (the SDK keeps
        two chunks in flight). ``known_ids``: the ids may be stored already (a resumed batch)."""
        return self.scheduler.submit.remote(prepared, return_tasks, known_ids)

    def collect(self, ref: Any) -> list[SubmitAnswer]:
        """The answers of a ``send``."""
        return list(call_scheduler(lambda: ray.get(ref)))

    async def submit_async(self, prepared: list[Submission], *, return_tasks: bool = True) -> list[SubmitAnswer]:
        """``submit`` for async code (the HTTP API): the event loop keeps running."""
        try:
            return list(await self.scheduler.submit.remote(prepared, return_tasks))
        except Exception as e:
            raise unwrap_ray_error(e) from None

    def estimate(self, prepared: list[Submission]) -> dict[str, Any]:
        """What the Scheduler would charge for prepared submissions (nothing is stored)."""
        part = [{"type": p["type"], "input": p["input"], "options": p["options"]} for p in prepared]
        return dict(call_scheduler(lambda: ray.get(self.scheduler.estimate.remote(part))))

    # -- waiting ---------------------------------------------------------------------------------

    def version(self, since: int, timeout: float) -> int:
        """The Scheduler's change version once it passes ``since`` (or ``timeout`` passes)."""
        return int(ray.get(self.scheduler.wait_version.remote(since, timeout)))

    async def version_async(self, since: int, timeout: float) -> int:
        """``version`` for async code."""
        return int(await self.scheduler.wait_version.remote(since, timeout))

    def version_wait(self, timeout: float | None) -> VersionWait:
        """A wait on the Scheduler's change version, until ``timeout`` (``version_wait.py``: the
        one wait loop of the package)."""
        return VersionWait(self.version, timeout)

    def wait(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """The task once it is done, or as it is when ``timeout`` passes (check ``task.done``)."""
        return self.wait_done(lambda: self.get(task_id, user_id), timeout)

    def wait_done(self, read: Callable[[], Waited], timeout: float | None) -> Waited:
        """``read()`` once what it returns is ``done``, or as it is when ``timeout`` passes.
        Sleeps on the Scheduler's change version between reads, so it does not poll the store."""
        return self.version_wait(timeout).until_done(read)

    async def wait_async(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """``wait`` for async code: the event loop keeps running (store reads go to a thread)."""
        wait = await AsyncVersionWait.start(self.version_async, timeout)
        return await wait.until_done(lambda: asyncio.to_thread(self.get, task_id, user_id))

    # -- reading tasks -----------------------------------------------------------------------------

    def get(self, task_id: str, user_id: str | None = None) -> Task:
        task = self.store.get(task_id, user_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        return task

    def get_many(self, task_ids: Sequence[str]) -> list[Task]:
        """Tasks by id, in that order (ids not stored are left out)."""
        return self.store.get_many(task_ids)

    def tasks(self, user_id: str | None, *, status: str | None = None, task_type: str | None = None,
              batch_id: str | None = None, limit: int = 50, before: Any = None,
              user_prefix: str | None = None) -> list[Task]:
        """The user's tasks, newest first; ``before``: a page cursor (``api.views.decode_cursor``);
        ``user_prefix``: every user's whose id starts with it (a tenant admin's ``acme/``)."""
        return self.store.list(user_id=user_id, status=status, task_type=task_type, batch_id=batch_id,
                               limit=limit, before=before, user_prefix=user_prefix)

    # -- changing tasks ----------------------------------------------------------------------------

    def cancel(self, task_id: str, user_id: str | None = None) -> Task:
        [res] = self.cancel_many([task_id], user_id)
        if res.get("error") == TaskNotFound.code:
            raise TaskNotFound(f"no task {task_id}")
        return self._after_write(task_id)

    def cancel_many(self, task_ids: list[str], user_id: str | None = None) -> list[dict[str, Any]]:
        """Cancel tasks; per id ``{"id", "status"}`` or ``{"id", "error"}``."""
        return list(call_scheduler(lambda: ray.get(self.scheduler.cancel.remote(task_ids, user_id))))

    def cancel_batch(self, batch_id: str, user_id: str | None = None) -> list[dict[str, Any]]:
        """Cancel every unfinished task of a batch."""
        return list(call_scheduler(lambda: ray.get(self.scheduler.cancel_batch.remote(batch_id, user_id))))

    def retry(self, task_id: str, user_id: str | None = None) -> Task:
        call_scheduler(lambda: ray.get(self.scheduler.retry.remote(task_id, user_id)))
        return self._after_write(task_id)

    def retry_many(self, task_ids: Sequence[str], user_id: str | None = None) -> int:
        """Retry failed tasks, a thousand calls in flight at a time; how many were retried (one
        retried meanwhile by someone else is no longer failed, and is skipped)."""
        retried = 0
        for start in range(0, len(task_ids), 1000):
            refs = [self.scheduler.retry.remote(tid, user_id) for tid in task_ids[start:start + 1000]]
            for ref in refs:
                try:
                    call_scheduler(lambda ref=ref: ray.get(ref))
                    retried += 1
                except InvalidTransition:
                    pass
        if retried:
            ray.get(self.scheduler.flush_now.remote())
        return retried

    def _after_write(self, task_id: str) -> Task:
        """Read a task after the Scheduler changed it (waits for its write to be committed)."""
        ray.get(self.scheduler.flush_now.remote())
        return self.get(task_id)

    # -- monitoring --------------------------------------------------------------------------------

    def statistics(self, user_id: str | None = None, *, user_prefix: str | None = None,
                   live_user: str | None = None) -> dict[str, Any]:
        """The statistics of ``user_id``'s work (or of every owner's under ``user_prefix``: a tenant
        admin's view); the Scheduler's live numbers with ``live_user``'s (else ``user_id``'s) own
        fair-share numbers."""
        live = ray.get(self.scheduler.live_stats.remote(live_user or user_id))
        stats = compute_statistics(self.store.aggregate(user_id=user_id, user_prefix=user_prefix), live)
        stats["schedules"] = self.schedules.statistics(user_id, user_prefix=user_prefix)
        stats["pipelines"] = self.pipelines.counts(user_id, user_prefix=user_prefix)
        return stats

    def fair_share(self, user_id: str) -> dict[str, Any]:
        """``user_id``'s own fair-share numbers (see ``scheduler.fairness.FairShare.describe``)."""
        return dict(ray.get(self.scheduler.live_stats.remote(user_id))["fair_share"])

    def providers(self) -> list[dict[str, Any]]:
        return list(ray.get(self.scheduler.providers.remote()))

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

        with self.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return str(self.store.engine.dialect.name)

    def store_problem(self) -> str | None:
        """Why the store cannot serve this version (no schema, an older one), or ``None``."""
        from .store.migrate import schema_problem

        return schema_problem(self.store.engine)

    def store_revision(self) -> dict[str, Any]:
        """The store's dialect and schema revision against the newest one (``/health``)."""
        from .store.migrate import current, head_revision

        return {"dialect": self.ping_store(), "revision": current(self.store.engine), "expected": head_revision()}

    # -- providers ---------------------------------------------------------------------------------

    def register_provider(self, provider: Any, *, replace: bool = False) -> dict[str, Any]:
        return dict(call_scheduler(lambda: ray.get(self.scheduler.register_provider.remote(provider, replace))))

    def unregister_provider(self, name: str) -> None:
        call_scheduler(lambda: ray.get(self.scheduler.unregister_provider.remote(name)))

    # -- batches -----------------------------------------------------------------------------------

    def open_batch(self, batch_id: str, user_id: str, expected: int | None, budget_usd: float | None = None) -> None:
        """Record a batch before its first task is sent (``expected``: its size, when known)."""
        open_batch(self.store.engine, batch_id, user_id, expected, check_budget(budget_usd),
                   instance=self.store.instance)

    def seal_batch(self, batch_id: str, sent: int | None = None) -> None:
        """Every item of the batch was sent (``sent`` of them)."""
        seal_batch(self.store.engine, batch_id, sent)

    def discard_batch(self, batch_id: str) -> None:
        """Forget a batch row whose tasks were not stored (or belong to another batch)."""
        discard_batch(self.store.engine, batch_id)

    def batches(self, user_id: str | None, limit: int = 100, *, user_prefix: str | None = None) -> list[dict[str, Any]]:
        """The user's batches (or every owner's under ``user_prefix``), newest first (see
        ``store.batches.batch_rows``)."""
        return batch_rows(self.store.engine, user_id, limit=limit, instance=self.store.instance,
                          user_prefix=user_prefix)

    def batch(self, batch_id: str, user_id: str | None, *, user_prefix: str | None = None) -> dict[str, Any]:
        """One of the user's batches (or of an owner under ``user_prefix``); ``BatchNotFound`` for
        an unknown id or another user's."""
        rows = batch_rows(self.store.engine, user_id, batch_id, instance=self.store.instance,
                          user_prefix=user_prefix)
        if not rows:
            raise BatchNotFound(f"no batch {batch_id}")
        return rows[0]

    def batch_task_ids(self, row: dict[str, Any]) -> Sequence[str]:
        """The task ids of a batch (a ``batch`` row)."""
        return batch_ids(self.store.engine, row)

    def stored_batch_ids(self, batch_id: str) -> list[str]:
        """The ids of a batch's tasks that are stored."""
        return stored_ids(self.store.engine, batch_id)

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        """A batch's tasks per status; ``not_submitted``: items its driver meant to send but did not."""
        counts = self.store.status_counts(batch_id=batch_id)
        rows = batch_rows(self.store.engine, None, batch_id, instance=self.store.instance)
        if rows and rows[0]["missing"]:
            counts["not_submitted"] = rows[0]["missing"]
        return counts

    def batch_cost(self, batch_id: str) -> float | None:
        """What a batch's tasks cost so far, in USD (``None``: no batch row, e.g. an old batch)."""
        rows = batch_rows(self.store.engine, None, batch_id, instance=self.store.instance)
        return float(rows[0]["cost_usd"]) if rows else None

    def finished_since(self, batch_id: str, cursor: int) -> list[tuple[str, str, int]]:
        """``(id, status, seq)`` of a batch's tasks that finished after ``cursor`` (a ``seq``)."""
        return self.store.finished_since(batch_id, cursor)

    def batch_states(self, batch_id: str, statuses: Sequence[str]) -> list[tuple[str, str, str | None]]:
        """``(id, status, provider)`` of a batch's tasks in one of ``statuses``."""
        return self.store.batch_states(batch_id, statuses)

    # -- budgets, spend ----------------------------------------------------------------------------

    def budget(self, user_id: str) -> dict[str, Any]:
        """The user's own daily budget, the deployment's cap, the one that applies, today's spend."""
        from .store.budgets import day_start, get_user_budget, spent

        own = get_user_budget(self.store.engine, user_id)
        cap = self.settings.user_daily_budget_usd
        limits = [b for b in (own, cap) if b is not None]
        return {"budget_usd": own, "deployment_cap_usd": cap, "effective_usd": min(limits) if limits else None,
                "spent_today_usd": round(spent(self.store.engine, user_id=user_id, since=day_start()), 6)}

    def set_budget(self, user_id: str, budget_usd: float | None) -> dict[str, Any]:
        """Set the user's own daily budget (``None`` removes it); checked before every attempt."""
        check_budget(budget_usd)
        call_scheduler(lambda: ray.get(self.scheduler.set_user_budget.remote(user_id, budget_usd)))
        return self.budget(user_id)

    def spend(self, user_id: str | None, days: int = 30, *, user_prefix: str | None = None) -> list[dict[str, Any]]:
        """The user's (or every owner's under ``user_prefix``) spend per UTC day and provider,
        newest first."""
        from .store.budgets import spend_rows

        if not 1 <= days <= 366:
            raise InvalidRequest("days: must be from 1 to 366", field="days")
        return spend_rows(self.store.engine, user_id, days, user_prefix)

    # -- webhooks ----------------------------------------------------------------------------------

    def webhook_deliveries(self, user_id: str, task_id: str | None = None, *, status: str | None = None,
                           limit: int = 100) -> list[dict[str, Any]]:
        """The user's webhook deliveries: a task's in event order, or all newest first."""
        from .webhooks import service as webhooks

        return webhooks.list_deliveries(self.store.engine, user_id, task_id, status=status, limit=limit,
                                        instance=self.store.instance)

    def webhook_delivery(self, webhook_id: str, user_id: str) -> dict[str, Any] | None:
        """One of the user's deliveries with its attempt log (``None``: unknown or another user's)."""
        from .webhooks import service as webhooks

        return webhooks.delivery_status(self.store.engine, webhook_id, user_id, instance=self.store.instance)

    def webhook_statistics(self, user_id: str | None) -> dict[str, Any]:
        from .webhooks import service as webhooks

        return webhooks.statistics(self.store.engine, user_id, instance=self.store.instance)

    def redeliver_webhook(self, webhook_id: str, user_id: str) -> dict[str, Any] | None:
        """Send one of the user's deliveries again, now (``None``: unknown or another user's)."""
        from .webhooks import service as webhooks
        from .webhooks.dispatcher import wake_dispatcher

        row = webhooks.redeliver(self.store.engine, webhook_id, user_id, instance=self.store.instance)
        if row is not None:
            wake_dispatcher(self.settings)
        return row

    def webhook_secret(self, user_id: str, *, rotate: bool = False) -> str:
        """The user's signing secret (``whsec_...``); ``rotate`` makes a new one."""
        from .webhooks.user_secrets import get_user_secret, rotate_user_secret

        return (rotate_user_secret if rotate else get_user_secret)(self.store.engine, user_id)

    def tenant_webhook_secret(self, tenant: str, *, rotate: bool = False) -> str:
        """The tenant's default signing secret, for its users without one of their own."""
        from .webhooks.user_secrets import tenant_secret

        return tenant_secret(self.store.engine, tenant, rotate=rotate)

    def close(self) -> None:
        self.store.close()


def unwrap_ray_error(exc: BaseException) -> BaseException:
    """A package error raised inside the Scheduler, as itself rather than a ``RayTaskError``; a
    store outage met there as ``StoreUnavailable`` (or ``DiskFull``), not the driver's error."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, VideoAIError):
            return cause
        if isinstance(cause, Exception):
            return store_error(cause) or exc
    return exc


def call_scheduler(fn: Any) -> Any:
    """Call ``fn``, re-raising a package error from inside the Scheduler as itself."""
    try:
        return fn()
    except ray.exceptions.RayTaskError as e:
        raise unwrap_ray_error(e) from None
