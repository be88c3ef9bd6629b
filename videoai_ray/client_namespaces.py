"""The SDK's namespaces over ``MediaService``: ``client.tasks``, ``client.batches``,
``client.budget``, ``client.webhooks`` and ``client.providers`` (``client.pipelines``,
``client.schedules`` and ``client.experiments`` live in their packages' ``handle`` modules).

A namespace whose name was a listing method in the SDK's first versions is also callable and
lists as that method did: ``client.tasks(status="failed")`` is ``client.tasks.list(...)``,
``client.budget()`` is ``client.budget.get()``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from .batching import iter_items, map_items, send_batch
from .budget_rule import check_budget
from .errors import InvalidRequest, TaskNotFound
from .estimates import Estimate
from .frames import batches_frame, providers_frame, spend_frame, tasks_frame
from .futures import Batch, TaskFuture
from .mapview import MapView
from .models import BatchItem, Task, TaskType
from .outage_errors import as_clear_error
from .providers.base import Provider
from .scheduler.estimate import merge as merge_estimates
from .store.batches import DerivedIds

if TYPE_CHECKING:
    from .client import Client

#: what ``client.batch`` and ``client.map`` take: any iterable of items, or a frame of them
Items: TypeAlias = Iterable[Mapping[str, Any] | BatchItem] | pd.DataFrame


class ClientNamespace:
    """A part of the SDK: holds the ``Client`` (its user, settings and service)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _user(self) -> str:
        return self._client.user_id

    def __repr__(self) -> str:
        """What a notebook shows for ``client.tasks``: its methods, and whether calling it lists."""
        methods = ", ".join(f"{n}()" for n in dir(type(self)) if not n.startswith("_") and callable(getattr(self, n)))
        calling = f"; calling it is {'list' if hasattr(self, 'list') else 'get'}()" if callable(self) else ""
        return f"<{type(self).__name__}: {methods}{calling}>"


class Tasks(ClientNamespace):
    """Submit, read, cancel and retry single tasks; ``client.tasks(...)`` lists them as a frame."""

    def __call__(self, *, status: str | None = None, task_type: str | None = None, limit: int = 50,
                 batch_id: str | None = None) -> pd.DataFrame:
        return self.list(status=status, task_type=task_type, limit=limit, batch_id=batch_id)

    def list(self, *, status: str | None = None, task_type: str | None = None, limit: int = 50,
             batch_id: str | None = None) -> pd.DataFrame:
        """Recent tasks (newest first) as a frame."""
        return tasks_frame(self._client.service.tasks.list(self._user, status=status, task_type=task_type,
                                                           limit=limit, batch_id=batch_id))

    def submit(self, task_type: TaskType | str, body: Mapping[str, Any], *,
               idempotency_key: str | None = None) -> TaskFuture:
        """One task of any type (``client.images.generate`` and its siblings call this)."""
        service = self._client.service
        with as_clear_error():  # a store outage is StoreUnavailable (or DiskFull), not a driver error
            prepared = service.prepare(task_type, body, user_id=self._user, idempotency_key=idempotency_key)
            [answer] = service.submit([prepared])
        return TaskFuture(self._client, answer["id"], answer["cache_hit"])

    def get(self, task_id: str) -> Task:
        """One of your tasks; ``TaskNotFound`` for an unknown id or another user's."""
        with as_clear_error():
            return self._client.service.tasks.get(task_id, self._user)

    def cancel(self, task_id: str) -> Task:
        """Stop a waiting or running task; a finished one is returned unchanged."""
        return self._client.service.tasks.cancel(task_id, self._user)

    def retry(self, task_id: str) -> Task:
        """Queue a failed or cancelled task again."""
        return self._client.service.tasks.retry(task_id, self._user)


class Batches(ClientNamespace):
    """Send, map, resume, estimate and re-attach to batches; ``client.batches()`` lists them."""

    def __call__(self, limit: int = 100) -> pd.DataFrame:
        return self.list(limit)

    def list(self, limit: int = 100) -> pd.DataFrame:
        """Your batches, newest first: items expected and submitted, ``missing`` (more than 0 with
        no ``sealed_at`` when the driver stopped early, or is still sending), counts per status,
        ``cost_usd`` spent so far and ``budget_usd``."""
        return batches_frame(self._client.service.batches.list(self._user, limit))

    def create(self, items: Items, *, chunk_size: int | None = None, budget_usd: float | None = None) -> Batch:
        """Submit any number of tasks from any iterable (a list, a generator, a DataFrame with
        ``task_type``/``input_data``/``priority`` columns, ``parquet_rows(path)``), sent in chunks
        (one actor call and one SQL transaction each, two in flight): the driver never holds more
        than two chunks of requests.

        Each chunk is validated in full before it is sent; a bad item raises ``BatchItemRefused``
        naming its index and how many items (whole chunks before it) were accepted. The batch
        records its size (when the input knows it) before the first chunk goes out; if this
        driver stops early, ``batch.counts()`` shows ``not_submitted`` and ``resume`` sends the
        rest. ``budget_usd``: the most the batch may spend; an attempt that could take it over is
        not started and its task fails with ``budget_exceeded``."""
        check_budget(budget_usd)
        batch_id = _new_batch_id()
        with as_clear_error():
            sent = send_batch(self._client, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd)
        return Batch(self._client, batch_id, DerivedIds(batch_id, sent), expected=sent)

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
        batch_id = _new_batch_id()
        client = self._client
        if isinstance(source, pd.DataFrame):
            items = map_items(source, ttype.value, mapping, body, priority)
            sent = send_batch(client, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd,
                              expected=len(source))
            return MapView(Batch(client, batch_id, DerivedIds(batch_id, sent), expected=sent, columns=mapping),
                           source)
        manifest = open_manifest(source, list(dict.fromkeys(mapping.values())), client.settings, fmt=source_format)
        try:
            manifest.check(list(mapping.values()))
            items = map_items(manifest.frames, ttype.value, mapping, body, priority)
            sent = send_batch(client, batch_id, items, chunk_size=chunk_size, budget_usd=budget_usd,
                              expected=manifest.rows)
        finally:
            manifest.close()
        return Batch(client, batch_id, DerivedIds(batch_id, sent), expected=sent, columns=mapping)

    def resume(self, batch_id: str, items: Items, *, chunk_size: int | None = None) -> Batch:
        """Send the items of a batch whose driver stopped early (the same items, in the same
        order); those already stored are skipped. Run it only once the first driver is gone."""
        service = self._client.service
        row = service.batches.get(batch_id, self._user)
        skip = set(service.batches.stored_ids(batch_id))
        sent = send_batch(self._client, batch_id, items, chunk_size=chunk_size, skip=skip, expected=row["expected"])
        return Batch(self._client, batch_id, DerivedIds(batch_id, sent), expected=sent)

    def get(self, batch_id: str) -> Batch:
        """Re-attach to one of your batches (after a kernel restart, from another driver): the same
        ``Batch`` as at submit time. ``BatchNotFound`` for an unknown id or another user's."""
        service = self._client.service
        row = service.batches.get(batch_id, self._user)
        return Batch(self._client, batch_id, service.batches.task_ids(row), expected=row["expected"])

    def estimate(self, items: Items, *, chunk_size: int | None = None) -> Estimate:
        """Expected cost and duration of a batch before submitting it (nothing is stored): each
        item is validated and priced on the provider the Scheduler would choose for it."""
        service = self._client.service
        totals: dict[str, Any] = {"providers": {}, "unservable": {}}
        prepared = service.prepare_batch(iter_items(items), user_id=self._user, batch_id="estimate")
        n = 0
        while chunk := list(itertools.islice(prepared, chunk_size or self._client.settings.submit_chunk)):
            n += len(chunk)
            merge_estimates(totals, service.estimate(chunk))
        return Estimate.from_totals(n, totals)


class UserBudget(ClientNamespace):
    """Your own daily budget and what you spent; ``client.budget()`` reads it."""

    def __call__(self) -> dict[str, Any]:
        return self.get()

    def get(self) -> dict[str, Any]:
        """Your own daily budget, the deployment's cap, the one that applies and today's spend."""
        return self._client.service.budgets.get(self._user)

    def set(self, budget_usd: float | None) -> dict[str, Any]:
        """Set your own daily budget in USD (``None`` removes it); it cannot raise the deployment's cap."""
        return self._client.service.budgets.set(self._user, budget_usd)

    def spend(self, days: int = 30) -> pd.DataFrame:
        """What your tasks cost per UTC day and provider, newest day first."""
        return spend_frame(self._client.service.budgets.spend(self._user, days))


class Webhooks(ClientNamespace):
    """Your webhook deliveries and signing secret."""

    def deliveries(self, task_id: str | None = None, limit: int = 100) -> pd.DataFrame:
        """The delivery log of your webhook events (newest first)."""
        return pd.DataFrame(self._client.service.webhooks.deliveries(self._user, task_id, limit=limit))

    def status(self, webhook_id: str) -> dict[str, Any]:
        """One event's deliveries: attempts, status codes, latency, next attempt."""
        found = self._client.service.webhooks.delivery(webhook_id, self._user)
        if found is None:
            raise TaskNotFound(f"no webhook delivery {webhook_id}")
        return found

    def statistics(self) -> dict[str, Any]:
        return self._client.service.webhooks.statistics(self._user)

    def redeliver(self, webhook_id: str) -> dict[str, Any]:
        """Send a failed (or delivered) event again, now."""
        row = self._client.service.webhooks.redeliver(webhook_id, self._user)
        if row is None:
            raise TaskNotFound(f"no webhook delivery {webhook_id}")
        return row

    def secret(self, *, rotate: bool = False) -> str:
        """Your signing secret (``whsec_...``) for tasks without a ``webhook_secret``."""
        return self._client.service.webhooks.secret(self._user, rotate=rotate)


class Providers(ClientNamespace):
    """The cluster's providers; ``client.providers()`` lists them as a frame."""

    def __call__(self) -> pd.DataFrame:
        return self.list()

    def list(self) -> pd.DataFrame:
        """One row per provider: availability, health, quality, task types, its pool."""
        return providers_frame(self._client.service.providers.list())

    def register(self, provider: Provider, *, replace: bool = False) -> dict[str, Any]:
        """Ship a provider object to the cluster and route tasks to it from now on."""
        return self._client.service.providers.register(provider, replace=replace)

    def unregister(self, name: str) -> None:
        self._client.service.providers.unregister(name)


def _new_batch_id() -> str:
    return "batch_" + uuid.uuid4().hex
