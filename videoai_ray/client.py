"""The notebook SDK: ``connect()`` and a ``Client`` whose namespaces mirror the HTTP API.

    import videoai_ray as vai
    client = vai.connect()
    fut = client.images.generate(prompt="Um gato robô futurista", priority="high")
    task = fut.result(timeout=120)
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import ray

from .artifacts import ArtifactStore
from .batching import iter_items, map_items, send_batch
from .budget_rule import check_budget
from .catalogue.handle import Models
from .errors import InvalidRequest, TaskNotFound
from .estimates import Estimate
from .experiments.handle import ExperimentHandle, experiments_frame
from .files import TaskFiles
from .frames import batches_frame, providers_frame, queue_series, spend_frame, table_frame, tasks_frame
from .futures import Batch, TaskFuture
from .local_cluster import prepare_local_cluster
from .mapview import MapView
from .models import BatchItem, Task, TaskType
from .providers.base import Provider

if TYPE_CHECKING:
    from .pipelines.handle import Pipeline
from .media_namespaces import Audio, Images, Subtitles, Videos
from .outage_errors import as_clear_error
from .ray_join import join_ray
from .scheduler import NAMESPACE, deployment_settings, get_or_create_scheduler
from .scheduler.estimate import merge as merge_estimates
from .schedules import DEFAULT_GRACE_SECONDS, DEFAULT_MISFIRE
from .schedules.handle import Schedule, schedule_body, schedules_frame
from .service import MediaService
from .settings import Settings
from .store import StoreTimeouts, TaskStore
from .store.batches import DerivedIds
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
    """Submit and follow media tasks on a Ray cluster."""

    def __init__(self, settings: Settings, scheduler: Any, store: TaskStore, user_id: str = "local") -> None:
        self.settings = settings
        self.user_id = user_id
        self.service = MediaService(settings, scheduler, store)
        self.images = Images(self)
        self.videos = Videos(self)
        self.audio = Audio(self)
        self.subtitles = Subtitles(self)
        #: the model catalogue a request names with ``model=``: ``list()``, ``register()``, ``remove()``
        self.models = Models(self)
        #: a tenant's own provider keys: ``tenant.set_provider_key("openai", key, tenant="acme")``
        self.tenant = TenantKeys(self)
        #: a task's output files, read from any driver: ``files.read(task)``, ``files.download(task, "out/")``
        self.files = TaskFiles(settings, self.get)

    @property
    def scheduler(self) -> Any:
        return self.service.scheduler

    def upload(self, file: str | Path) -> str:
        """Store a local input file for this client's user; the ``upload://`` reference to pass
        as ``audio_url`` or ``image_url`` (only this user's tasks can read it)."""
        return ArtifactStore.of(self.settings).put_upload(self.user_id, Path(file))

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, task_type: TaskType | str, body: Mapping[str, Any], *,
               idempotency_key: str | None = None) -> TaskFuture:
        with as_clear_error():  # a store outage is StoreUnavailable (or DiskFull), not a driver error
            prepared = self.service.prepare(task_type, body, user_id=self.user_id, idempotency_key=idempotency_key)
            [answer] = self.service.submit([prepared])
        return TaskFuture(self, answer["id"], answer["cache_hit"])

    def batch(self, items: Iterable[Mapping[str, Any] | BatchItem] | pd.DataFrame, *,
              chunk_size: int | None = None, budget_usd: float | None = None) -> Batch:
        """Submit any number of tasks from any iterable (a list, a generator, a DataFrame with
        ``task_type``/``input_data``/``priority`` columns, ``parquet_rows(path)``), sent in chunks
        (one actor call and one SQL transaction each, two in flight): the driver never holds more
        than two chunks of requests.

        Each chunk is validated in full before it is sent; a bad item raises ``BatchItemRefused``
        naming its index and how many items (whole chunks before it) were accepted. The batch
        records its size (when the input knows it) before the first chunk goes out; if this
        driver stops early, ``batch.counts()`` shows ``not_submitted`` and ``resume_batch`` sends
        the rest. ``budget_usd``: the most the batch may spend; an attempt that could take it
        over is not started and its task fails with ``budget_exceeded``."""
        check_budget(budget_usd)
        batch_id = "batch_" + uuid.uuid4().hex
        with as_clear_error():
            sent = send_batch(self, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd)
        return Batch(self, batch_id, DerivedIds(batch_id, sent), expected=sent)

    def map(self, source: pd.DataFrame | str | PathLike[str] | Any, *, task_type: TaskType | str,
            columns: Mapping[str, str], priority: str | None = None, chunk_size: int | None = None,
            budget_usd: float | None = None, source_format: str | None = None, **body: Any) -> MapView | Batch:
        """One task per row of ``source``: ``columns`` maps request fields to its columns
        (``{"prompt": "caption"}``); ``body`` adds fields to every row (``provider=``,
        ``use_cache=``, ...).

        ``source`` is a pandas DataFrame (returns a ``MapView``: the frame with ``task_id``,
        ``status``, ``provider``, ``cost``, ``output`` and ``error`` columns that fill in as tasks
        finish), or, returning a ``Batch``, a Parquet or CSV manifest at any fsspec URL
        (``s3://corpus/manifest.parquet``; read with the deployment's storage options, in row
        groups or chunks, never whole; ``source_format=`` when the name does not say) or a
        ``ray.data.Dataset`` (read block by block). A column of ``columns`` that the source does
        not have raises ``InvalidRequest`` naming it, before any task is stored. The results go
        out with ``batch.to_parquet(url)`` or ``batch.to_dataset()``."""
        from .manifests import FORMATS, open_manifest

        check_budget(budget_usd)
        try:
            ttype = TaskType(task_type)
        except ValueError:
            raise InvalidRequest(f"task_type: unknown task type {task_type!r}", field="task_type") from None
        if source_format is not None and source_format not in FORMATS:
            raise InvalidRequest(f"source_format: one of {', '.join(FORMATS)}, not {source_format!r}",
                                 field="source_format")
        mapping = dict(columns)
        batch_id = "batch_" + uuid.uuid4().hex
        if isinstance(source, pd.DataFrame):
            items = map_items(source, ttype.value, mapping, body, priority)
            sent = send_batch(self, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd,
                              expected=len(source))
            return MapView(Batch(self, batch_id, DerivedIds(batch_id, sent), expected=sent, columns=mapping), source)
        manifest = open_manifest(source, list(dict.fromkeys(mapping.values())), self.settings, fmt=source_format)
        try:
            manifest.check(list(mapping.values()))
            items = map_items(manifest.frames, ttype.value, mapping, body, priority)
            sent = send_batch(self, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd,
                              expected=manifest.rows)
        finally:
            manifest.close()
        return Batch(self, batch_id, DerivedIds(batch_id, sent), expected=sent, columns=mapping)

    def resume_batch(self, batch_id: str, items: Iterable[Mapping[str, Any] | BatchItem] | pd.DataFrame, *,
                     chunk_size: int | None = None) -> Batch:
        """Send the items of a batch whose driver stopped early (the same items, in the same
        order); those already stored are skipped. Run it only once the first driver is gone."""
        row = self.service.batch(batch_id, self.user_id)
        skip = set(self.service.stored_batch_ids(batch_id))
        sent = send_batch(self, batch_id, items, chunk_size=chunk_size, skip=skip, expected=row["expected"])
        return Batch(self, batch_id, DerivedIds(batch_id, sent), expected=sent)

    def batch_from_id(self, batch_id: str) -> Batch:
        """Re-attach to one of your batches (after a kernel restart, from another driver): the same
        ``Batch`` as at submit time. ``BatchNotFound`` for an unknown id or another user's."""
        row = self.service.batch(batch_id, self.user_id)
        return Batch(self, batch_id, self.service.batch_task_ids(row), expected=row["expected"])

    #: the name issue 17 documented first
    get_batch = batch_from_id

    def batches(self, limit: int = 100) -> pd.DataFrame:
        """Your batches, newest first: items expected and submitted, ``missing`` (more than 0 with
        no ``sealed_at`` when the driver stopped early, or is still sending), counts per status,
        ``cost_usd`` spent so far and ``budget_usd``."""
        return batches_frame(self.service.batches(self.user_id, limit))

    def estimate(self, items: Iterable[Mapping[str, Any] | BatchItem] | pd.DataFrame, *,
                 chunk_size: int | None = None) -> Estimate:
        """Expected cost and duration of a batch before submitting it (nothing is stored): each
        item is validated and priced on the provider the Scheduler would choose for it."""
        totals: dict[str, Any] = {"providers": {}, "unservable": {}}
        prepared = self.service.prepare_batch(iter_items(items), user_id=self.user_id, batch_id="estimate")
        n = 0
        while chunk := list(itertools.islice(prepared, chunk_size or self.settings.submit_chunk)):
            n += len(chunk)
            merge_estimates(totals, self.service.estimate(chunk))
        return Estimate.from_totals(n, totals)

    # -- pipelines -------------------------------------------------------------------------------

    def pipeline(self, steps: list[Mapping[str, Any]] | None = None, *, spec: Mapping[str, Any] | None = None,
                 idempotency_key: str | None = None, **options: Any) -> Pipeline:
        """Start a pipeline: ``steps`` (see ``videoai_ray.pipelines.step`` and ``ref``), or a whole
        ``spec`` as ``POST /pipelines`` takes it; ``options``: ``priority``, ``webhook_url``,
        ``webhook_secret``, ``metadata``. An unknown step reference or a cycle raises
        ``InvalidRequest`` naming the step, and nothing is stored."""
        from .pipelines.handle import Pipeline

        if (steps is None) == (spec is None):
            raise InvalidRequest("steps: give exactly one of steps or spec", field="steps")
        body = dict(spec) if spec is not None else {"steps": list(steps or []), **options}
        record = self.service.pipelines.create(body, user_id=self.user_id, idempotency_key=idempotency_key)
        return Pipeline(self, record.id, record)

    def pipeline_from_id(self, pipeline_id: str) -> Pipeline:
        """Re-attach to one of your pipelines; ``PipelineNotFound`` for an unknown id or another user's."""
        from .pipelines.handle import Pipeline

        return Pipeline(self, pipeline_id)

    def pipelines(self, limit: int = 50) -> pd.DataFrame:
        """Your pipelines, newest first: id, status, created, finished, each step's status."""
        records = self.service.pipelines.list(self.user_id, limit)
        return pd.DataFrame([{"id": r.id, "status": r.status.value, "created_at": r.created_at,
                              "finished_at": r.finished_at, "failed_step": (r.error or {}).get("step"),
                              **{f"step:{s.id}": s.status for s in r.steps}} for r in records])

    # -- budgets and spend ---------------------------------------------------------------------

    def budget(self) -> dict[str, Any]:
        """Your own daily budget, the deployment's cap, the one that applies and today's spend."""
        return self.service.budget(self.user_id)

    def set_budget(self, budget_usd: float | None) -> dict[str, Any]:
        """Set your own daily budget in USD (``None`` removes it); it cannot raise the deployment's cap."""
        return self.service.set_budget(self.user_id, budget_usd)

    def spend(self, days: int = 30) -> pd.DataFrame:
        """What your tasks cost per UTC day and provider, newest day first."""
        return spend_frame(self.service.spend(self.user_id, days))

    # -- provider A/B experiments -----------------------------------------------------------------

    def experiment(self, experiment_id: str | None = None, /, **spec: Any) -> ExperimentHandle:
        """``client.experiment("exp_...")``: one of your experiments (``ExperimentNotFound``
        otherwise). ``client.experiment(name=..., task_type=..., arms=[{"provider": ..., "weight":
        ...}, ...])``: start one (``ExperimentSpec``; ``InvalidRequest`` naming the field). The
        SDK may use ``user_id=`` or ``all_users=True`` (the HTTP API needs an admin token)."""
        if experiment_id is not None:
            if spec:
                raise InvalidRequest("experiment: give an experiment id or a new experiment's fields, not both",
                                     field=next(iter(spec)))
            self.service.experiments.get(experiment_id, self.user_id)
            return ExperimentHandle(self, experiment_id)
        created = self.service.experiments.create(spec, self.user_id, admin=True)
        return ExperimentHandle(self, created["id"])

    def experiments(self, limit: int = 100) -> pd.DataFrame:
        """Your experiments, newest first."""
        return experiments_frame(self.service.experiments.list(self.user_id, limit))
    # -- schedules -----------------------------------------------------------------------------

    def schedule(self, task_type: TaskType | str | None = None, input_data: Mapping[str, Any] | None = None, *,
                 cron: str | None = None, at: datetime | str | None = None, timezone: str = "UTC",
                 priority: str | None = None, name: str | None = None, misfire: str = DEFAULT_MISFIRE,
                 misfire_grace_seconds: float = DEFAULT_GRACE_SECONDS,
                 target: Mapping[str, Any] | None = None,
                 pipeline: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Schedule:
        """Run a task on ``cron`` (five fields, or six with seconds first) in ``timezone``, or
        once ``at`` a time; each tick runs exactly once, across Scheduler restarts. ``misfire``:
        ticks missed while the Scheduler was down run once together (``run_once``) or not at
        all (``skip``). ``pipeline`` (a spec as ``client.pipeline(spec=...)`` takes it, or its
        steps) starts a pipeline at each tick instead of a task. ``target`` instead takes the
        tagged form (``{"task": {...}}`` or ``{"pipeline": {...}}``). A bad field raises
        ``InvalidRequest`` naming it; nothing is stored."""
        ttype = task_type.value if isinstance(task_type, TaskType) else task_type
        body = schedule_body(ttype, input_data, target=target, cron=cron, at=at, timezone=timezone, priority=priority,
                             name=name, misfire=misfire, misfire_grace_seconds=misfire_grace_seconds,
                             pipeline=pipeline)
        return Schedule(self, self.service.schedules.create(body, user_id=self.user_id))

    def schedules(self, limit: int = 100) -> pd.DataFrame:
        """Your schedules, newest first: state, trigger, next run (UTC), ticks fired and missed."""
        return schedules_frame(self.service.schedules.list(self.user_id, limit))

    def get_schedule(self, schedule_id: str, n_next: int = 5) -> Schedule:
        """One of your schedules, with its next ``n_next`` run times; ``ScheduleNotFound`` otherwise."""
        return Schedule(self, self.service.schedules.get(schedule_id, self.user_id, n_next))

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return Schedule(self, self.service.schedules.pause(schedule_id, self.user_id))

    def resume_schedule(self, schedule_id: str) -> Schedule:
        """Ticks that fell while it was paused do not run."""
        return Schedule(self, self.service.schedules.resume(schedule_id, self.user_id))

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete it; the tasks it created stay."""
        self.service.schedules.delete(schedule_id, self.user_id)

    # -- reading -------------------------------------------------------------------------------

    def get(self, task_id: str) -> Task:
        with as_clear_error():
            return self.service.get(task_id, self.user_id)

    def tasks(self, *, status: str | None = None, task_type: str | None = None, limit: int = 50,
              batch_id: str | None = None) -> pd.DataFrame:
        """Recent tasks (newest first) as a frame."""
        return tasks_frame(self.service.tasks(self.user_id, status=status, task_type=task_type, limit=limit,
                                              batch_id=batch_id))

    def statistics(self, *, all_users: bool = False) -> Statistics:
        raw = self.service.statistics(None if all_users else self.user_id)
        if all_users:
            raw["fair_share"] = self.service.fair_share(self.user_id)
        queue = queue_series(raw["queue_depth"])
        return Statistics(raw, table_frame(raw["by_type"], "type"), table_frame(raw["by_provider"], "provider"),
                          queue, providers_frame(raw["providers"]), table_frame(raw["by_model"], "model"))

    def providers(self) -> pd.DataFrame:
        return providers_frame(self.service.providers())

    def cache_stats(self) -> dict[str, Any]:
        return self.service.cache_stats()

    # -- webhooks ------------------------------------------------------------------------------

    def webhook_deliveries(self, task_id: str | None = None, limit: int = 100) -> pd.DataFrame:
        """The delivery log of your webhook events (newest first)."""
        return pd.DataFrame(self.service.webhook_deliveries(self.user_id, task_id, limit=limit))

    def webhook_status(self, webhook_id: str) -> dict[str, Any]:
        """One event's deliveries: attempts, status codes, latency, next attempt."""
        found = self.service.webhook_delivery(webhook_id, self.user_id)
        if found is None:
            raise TaskNotFound(f"no webhook delivery {webhook_id}")
        return found

    def webhook_statistics(self) -> dict[str, Any]:
        return self.service.webhook_statistics(self.user_id)

    def redeliver_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Send a failed (or delivered) event again, now."""
        row = self.service.redeliver_webhook(webhook_id, self.user_id)
        if row is None:
            raise TaskNotFound(f"no webhook delivery {webhook_id}")
        return row

    def webhook_secret(self, *, rotate: bool = False) -> str:
        """Your signing secret (``whsec_...``) for tasks without a ``webhook_secret``."""
        return self.service.webhook_secret(self.user_id, rotate=rotate)

    # -- changing ------------------------------------------------------------------------------

    def cancel(self, task_id: str) -> Task:
        return self.service.cancel(task_id, self.user_id)

    def retry(self, task_id: str) -> Task:
        return self.service.retry(task_id, self.user_id)

    def register_provider(self, provider: Provider, *, replace: bool = False) -> dict[str, Any]:
        """Ship a provider object to the cluster and route tasks to it from now on."""
        return self.service.register_provider(provider, replace=replace)

    def unregister_provider(self, name: str) -> None:
        self.service.unregister_provider(name)


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
