"""MediaService: the one core every entry point calls (SDK, HTTP API, CLI).

It validates bodies into submissions (through ``admission``, which the Scheduler's own runners
share, below this door) and sends them to the Scheduler in chunks. Everything else is a
namespace of it (``service_namespaces.py`` and the feature packages): ``tasks``, ``batches``,
``budgets``, ``webhooks``, ``providers``, ``monitor``, ``pipelines``, ``schedules``,
``experiments``, ``models``, ``tenants``. Nothing here is specific to HTTP or to notebooks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import ray

from .admission import Admission
from .scheduler_calls import call_scheduler, unwrap_ray_error
from .service_namespaces import BatchOps, BudgetOps, MonitorOps, ProviderOps, TaskOps, WebhookOps
from .settings import Settings
from .store import StoreTimeouts, TaskStore
from .version_wait import VersionWait, Waited

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
    """Prepare and submit tasks, wait on the Scheduler's changes; the rest through namespaces:
    ``tasks`` (read, wait, cancel, retry), ``batches``, ``budgets`` (and spend), ``webhooks``,
    ``providers``, ``monitor`` (statistics, live numbers, store health), ``pipelines``,
    ``schedules``, ``experiments``, ``models``, ``tenants``. The only owner of the store and of the
    Scheduler's handle: the SDK, the HTTP API and the CLI call these (a new feature adds a
    namespace, or a method to one, and a route or SDK method over it)."""

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
        self.tasks = TaskOps(self)
        self.batches = BatchOps(self)
        self.budgets = BudgetOps(self)
        self.webhooks = WebhookOps(self)
        self.providers = ProviderOps(self)
        self.monitor = MonitorOps(self)

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

    def wait_done(self, read: Callable[[], Waited], timeout: float | None) -> Waited:
        """``read()`` once what it returns is ``done``, or as it is when ``timeout`` passes.
        Sleeps on the Scheduler's change version between reads, so it does not poll the store."""
        return self.version_wait(timeout).until_done(read)

    def close(self) -> None:
        self.store.close()

