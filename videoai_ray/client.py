"""The notebook SDK: ``connect()`` and a ``Client`` whose namespaces mirror the HTTP API.

    import videoai_ray as vai
    client = vai.connect()
    fut = client.images.generate(prompt="Um gato robô futurista", priority="high")
    task = fut.result(timeout=120)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from .artifacts import ArtifactStore
from .catalogue.handle import Models
from .client_namespaces import Batches, Items, Providers, Tasks, UserBudget, Webhooks
from .errors import InvalidRequest
from .estimates import Estimate
from .experiments.handle import ExperimentHandle, Experiments
from .files import TaskFiles
from .frames import providers_frame, queue_series, table_frame
from .futures import Batch, TaskFuture
from .local_cluster import prepare_local_cluster
from .mapview import MapView
from .media_namespaces import Audio, Images, Subtitles, Videos
from .models import Task, TaskType
from .outage_errors import as_clear_error
from .pipelines.handle import Pipeline, Pipelines
from .providers.base import Provider
from .ray_join import join_ray
from .scheduler import NAMESPACE, deployment_settings, get_or_create_scheduler
from .schedules import DEFAULT_GRACE_SECONDS, DEFAULT_MISFIRE
from .schedules.handle import Schedule, Schedules
from .service import MediaService
from .settings import Settings
from .store import StoreTimeouts, TaskStore
from .tenants.handle import TenantKeys


@dataclass
class Statistics:
    """The VideoAI API contract's statistics as frames; ``raw`` is the JSON the HTTP API returns."""

    raw: dict[str, Any]
    by_type: pd.DataFrame
    by_provider: pd.DataFrame
    queue: pd.Series
    providers: pd.DataFrame
    #: per model the requests named (``model=``): two models compared side by side
    by_model: pd.DataFrame

    @property
    def success_rate(self) -> float | None:
        return self.raw["success_rate"]

    @property
    def pipelines(self) -> dict[str, Any]:
        """Your pipelines: ``total``, ``by_status``, ``success_rate``."""
        return dict(self.raw.get("pipelines") or {})

    @property
    def fair_share(self) -> dict[str, Any] | None:
        """Your own fair-share numbers (queued, in flight, weight, cap; docs/fairness.md)."""
        return self.raw.get("fair_share")

    def _repr_html_(self) -> str:
        parts = [f"<b>{self.raw['total_tasks']} tasks</b>, success rate "
                 f"{'-' if self.success_rate is None else f'{self.success_rate:.1%}'}, "
                 f"total cost ${self.raw['total_cost']:.4f}"]
        for title, df in (("By type", self.by_type), ("By provider", self.by_provider), ("By model", self.by_model),
                          ("Queue per priority", self.queue.to_frame("waiting")),
                          ("Provider health", self.providers)):
            parts.append(f"<h4>{title}</h4>{df.to_html()}")
        if self.fair_share:
            parts.append(f"<h4>Your fair share</h4>{pd.Series(self.fair_share).to_frame('value').to_html()}")
        return "".join(parts)


class Client:
    """Submit and follow media tasks on a Ray cluster: one namespace per kind of thing, as the
    HTTP API's paths are (``client.images``, ``client.tasks``, ``client.batches``,
    ``client.pipelines``, ``client.schedules``, ``client.experiments``, ``client.budget``,
    ``client.webhooks``, ``client.providers``, ``client.models``, ``client.files``). The flat
    methods below (``client.batch``, ``client.cancel``, ...) are the same calls under the names
    the SDK first had; each is one line over its namespace."""

    def __init__(self, settings: Settings, scheduler: Any, store: TaskStore, user_id: str = "local") -> None:
        self.settings = settings
        self.user_id = user_id
        self.service = MediaService(settings, scheduler, store)
        self.images = Images(self)
        self.videos = Videos(self)
        self.audio = Audio(self)
        self.subtitles = Subtitles(self)
        #: read, cancel, retry single tasks; ``client.tasks(status=...)`` lists them
        self.tasks = Tasks(self)
        #: ``create``, ``map``, ``resume``, ``get``, ``estimate``; ``client.batches()`` lists them
        self.batches = Batches(self)
        #: ``create``, ``get``; ``client.pipelines()`` lists them
        self.pipelines = Pipelines(self)
        #: ``create``, ``get``, ``pause``, ``resume``, ``delete``; ``client.schedules()`` lists them
        self.schedules = Schedules(self)
        #: provider A/B tests: ``create``, ``get``; ``client.experiments()`` lists them
        self.experiments = Experiments(self)
        #: your daily budget: ``client.budget()``, ``set``, ``spend``
        self.budget = UserBudget(self)
        #: ``deliveries``, ``status``, ``statistics``, ``redeliver``, ``secret``
        self.webhooks = Webhooks(self)
        #: ``register``, ``unregister``; ``client.providers()`` lists them
        self.providers = Providers(self)
        #: the model catalogue a request names with ``model=``: ``list()``, ``register()``, ``remove()``
        self.models = Models(self)
        #: a tenant's own provider keys: ``tenant.set_provider_key("openai", key, tenant="acme")``
        self.tenant = TenantKeys(self)
        #: a task's output files, read from any driver: ``files.read(task)``, ``files.download(task, "out/")``
        self.files = TaskFiles(settings, self.tasks.get)

    @property
    def scheduler(self) -> Any:
        return self.service.scheduler

    def upload(self, file: str | Path) -> str:
        """Store a local input file for this client's user; the ``upload://`` reference to pass
        as ``audio_url`` or ``image_url`` (only this user's tasks can read it)."""
        return ArtifactStore.of(self.settings).put_upload(self.user_id, Path(file))

    def statistics(self, *, all_users: bool = False) -> Statistics:
        monitor = self.service.monitor
        raw = monitor.statistics(None if all_users else self.user_id)
        if all_users:
            raw["fair_share"] = monitor.fair_share(self.user_id)
        queue = queue_series(raw["queue_depth"])
        return Statistics(raw, table_frame(raw["by_type"], "type"), table_frame(raw["by_provider"], "provider"),
                          queue, providers_frame(raw["providers"]), table_frame(raw["by_model"], "model"))

    def cache_stats(self) -> dict[str, Any]:
        return self.service.monitor.cache_stats()

    # -- the flat names: one line each over a namespace --------------------------------------------

    def submit(self, task_type: TaskType | str, body: Mapping[str, Any], *,
               idempotency_key: str | None = None) -> TaskFuture:
        """``client.tasks.submit``: one task of any type."""
        return self.tasks.submit(task_type, body, idempotency_key=idempotency_key)

    def get(self, task_id: str) -> Task:
        """``client.tasks.get``."""
        return self.tasks.get(task_id)

    def cancel(self, task_id: str) -> Task:
        """``client.tasks.cancel``."""
        return self.tasks.cancel(task_id)

    def retry(self, task_id: str) -> Task:
        """``client.tasks.retry``."""
        return self.tasks.retry(task_id)

    def batch(self, items: Items, *, chunk_size: int | None = None, budget_usd: float | None = None) -> Batch:
        """``client.batches.create``: any number of tasks, sent in chunks."""
        return self.batches.create(items, chunk_size=chunk_size, budget_usd=budget_usd)

    def map(self, source: pd.DataFrame | str | PathLike[str] | Any, *, task_type: TaskType | str,
            columns: Mapping[str, str], priority: str | None = None, chunk_size: int | None = None,
            budget_usd: float | None = None, source_format: str | None = None, **body: Any) -> MapView | Batch:
        """``client.batches.map``: one task per row of a frame, a manifest or a Dataset."""
        return self.batches.map(source, task_type=task_type, columns=columns, priority=priority,
                                chunk_size=chunk_size, budget_usd=budget_usd, source_format=source_format, **body)

    def resume_batch(self, batch_id: str, items: Items, *, chunk_size: int | None = None) -> Batch:
        """``client.batches.resume``."""
        return self.batches.resume(batch_id, items, chunk_size=chunk_size)

    def batch_from_id(self, batch_id: str) -> Batch:
        """``client.batches.get``."""
        return self.batches.get(batch_id)

    #: the name issue 17 documented first
    get_batch = batch_from_id

    def estimate(self, items: Items, *, chunk_size: int | None = None) -> Estimate:
        """``client.batches.estimate``: cost and duration before submitting (nothing is stored)."""
        return self.batches.estimate(items, chunk_size=chunk_size)

    def pipeline(self, steps: Sequence[Mapping[str, Any]] | None = None, *, spec: Mapping[str, Any] | None = None,
                 idempotency_key: str | None = None, **options: Any) -> Pipeline:
        """``client.pipelines.create``."""
        return self.pipelines.create(steps, spec=spec, idempotency_key=idempotency_key, **options)

    def pipeline_from_id(self, pipeline_id: str) -> Pipeline:
        """``client.pipelines.get``."""
        return self.pipelines.get(pipeline_id)

    def set_budget(self, budget_usd: float | None) -> dict[str, Any]:
        """``client.budget.set``."""
        return self.budget.set(budget_usd)

    def spend(self, days: int = 30) -> pd.DataFrame:
        """``client.budget.spend``."""
        return self.budget.spend(days)

    def experiment(self, experiment_id: str | None = None, /, **spec: Any) -> ExperimentHandle:
        """``client.experiment("exp_...")`` is ``client.experiments.get``;
        ``client.experiment(name=..., task_type=..., arms=[...])`` is ``client.experiments.create``."""
        if experiment_id is None:
            return self.experiments.create(**spec)
        if spec:
            raise InvalidRequest("experiment: give an experiment id or a new experiment's fields, not both",
                                 field=next(iter(spec)))
        return self.experiments.get(experiment_id)

    def schedule(self, task_type: TaskType | str | None = None, input_data: Mapping[str, Any] | None = None, *,
                 cron: str | None = None, at: datetime | str | None = None, timezone: str = "UTC",
                 priority: str | None = None, name: str | None = None, misfire: str = DEFAULT_MISFIRE,
                 misfire_grace_seconds: float = DEFAULT_GRACE_SECONDS, target: Mapping[str, Any] | None = None,
                 pipeline: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Schedule:
        """``client.schedules.create``: a task or a pipeline on ``cron`` or once ``at`` a time."""
        return self.schedules.create(task_type, input_data, cron=cron, at=at, timezone=timezone, priority=priority,
                                     name=name, misfire=misfire, misfire_grace_seconds=misfire_grace_seconds,
                                     target=target, pipeline=pipeline)

    def get_schedule(self, schedule_id: str, n_next: int = 5) -> Schedule:
        """``client.schedules.get``."""
        return self.schedules.get(schedule_id, n_next)

    def pause_schedule(self, schedule_id: str) -> Schedule:
        """``client.schedules.pause``."""
        return self.schedules.pause(schedule_id)

    def resume_schedule(self, schedule_id: str) -> Schedule:
        """``client.schedules.resume``."""
        return self.schedules.resume(schedule_id)

    def delete_schedule(self, schedule_id: str) -> None:
        """``client.schedules.delete``."""
        self.schedules.delete(schedule_id)

    def webhook_deliveries(self, task_id: str | None = None, limit: int = 100) -> pd.DataFrame:
        """``client.webhooks.deliveries``."""
        return self.webhooks.deliveries(task_id, limit)

    def webhook_status(self, webhook_id: str) -> dict[str, Any]:
        """``client.webhooks.status``."""
        return self.webhooks.status(webhook_id)

    def webhook_statistics(self) -> dict[str, Any]:
        """``client.webhooks.statistics``."""
        return self.webhooks.statistics()

    def redeliver_webhook(self, webhook_id: str) -> dict[str, Any]:
        """``client.webhooks.redeliver``."""
        return self.webhooks.redeliver(webhook_id)

    def webhook_secret(self, *, rotate: bool = False) -> str:
        """``client.webhooks.secret``."""
        return self.webhooks.secret(rotate=rotate)

    def register_provider(self, provider: Provider, *, replace: bool = False) -> dict[str, Any]:
        """``client.providers.register``."""
        return self.providers.register(provider, replace=replace)

    def unregister_provider(self, name: str) -> None:
        """``client.providers.unregister``."""
        self.providers.unregister(name)


def connect(address: str | None = None, *, settings: Settings | None = None, user_id: str = "local",
            providers: list[Provider] | None = None, **ray_init: Any) -> Client:
    """Connect to Ray (starting a local instance when ``address`` is None and none is running),
    find or start the Scheduler, and return a ``Client``.

    ``address="local"`` starts a private cluster on this machine, with Ray's token authentication
    set explicitly and Ray quiet unless something is wrong (``local_cluster``); ``address="auto"``
    joins the cluster this machine is part of; ``"ray://head:10001"`` goes through Ray Client.
    ``providers`` replaces the default providers when this call starts the Scheduler (tests and
    benchmarks use it). When the Scheduler runs already, its store (database, artifacts, data
    folder) is the one this client opens, whatever this process's settings say.
    """
    settings = settings or Settings()
    if not ray.is_initialized():
        ray_init.setdefault("namespace", NAMESPACE)
        ray_init.setdefault("log_to_driver", False)
        if address == "local":
            prepare_local_cluster(ray_init)
        join_ray(address, **ray_init)
    settings = deployment_settings(settings)
    scheduler = get_or_create_scheduler(settings, providers)
    with as_clear_error():  # the store is out: say so (StoreUnavailable, DiskFull), not the driver's error
        store = TaskStore(settings.db_url, instance=settings.instance, timeouts=StoreTimeouts.of(settings))
    return Client(settings, scheduler, store, user_id)
