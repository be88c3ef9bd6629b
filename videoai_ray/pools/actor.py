"""``ModelActor``: one member of a model provider's pool.

It calls ``provider.load()`` once when it starts and keeps the weights; then it serves batches of
attempts, one ``run_batch`` at a time (one forward pass on its device), and turns every item's
outcome into an ``AttemptResult``: an item that fails, is cancelled or has bad input fails alone.

While a catalogue model a batch names is fetched and loaded, the tasks waiting for it show what
happens as their progress (``downloading weights of <model>: 12.3 of 40.0 MB``, ``waiting for
another download of <model> on this node``), and the pool's status shows the model's state on
this actor: both are sent with the progress, at most every ``_PROGRESS_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import ray

from .. import metrics
from ..catalogue.spec import ModelSpec
from ..catalogue.weights import Weights
from ..catalogue.weights import fetch as fetch_weights
from ..containment import contained
from ..errors import InvalidInput, InvalidOutput, ProviderTimeout, RetryableError
from ..executor import Assignment, AttemptResult, artifact_writer, error_result, recheck_at_worker
from ..logs import configure_logging
from ..output_check import check_output
from ..placement import this_node
from ..providers.context import AttemptContext
from ..providers.model import ModelProvider
from ..settings import Settings
from .multiplex import LoadedModels

_PROGRESS_SECONDS = 0.25


class ModelActor:
    """Holds one copy of the model; the pool manager in the Scheduler sends it batches."""

    def __init__(self, provider: ModelProvider, settings: Settings, scheduler: Any, sink: Any,
                 member_id: str = "") -> None:
        configure_logging(settings)
        metrics.set_instance(settings.instance)
        self.provider = provider
        self.settings = settings
        self.scheduler = scheduler
        self.timeout = provider.timeout or settings.task_timeout
        self._write = artifact_writer(settings, sink)
        self.cancelled: set[str] = set()
        self.member_id = member_id
        self.progress: dict[str, tuple[int, float, str | None]] = {}
        #: catalogue models being fetched or loaded here: model key -> state (see ``_fetch``);
        #: written from the load threads, read by ``_flush_progress``
        self.loading: dict[str, dict[str, Any]] = {}
        #: the tasks of the batches waiting for each model key: task id -> attempt
        self.waiting: dict[str, dict[str, int]] = {}
        self._loading_sent: list[dict[str, Any]] = []
        #: tasks whose progress was a model's load
        self._told: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        started = time.monotonic()
        provider.load()
        self.loads = 1
        self.load_seconds = time.monotonic() - started
        metrics.model_load(provider.name, self.load_seconds)
        #: catalogue models this actor holds (``model=<name>`` requests)
        self.models = LoadedModels(settings.models_per_actor, settings.model_memory_per_actor,
                                   fetch=self._fetch, load=self._load)

    def info(self) -> dict[str, Any]:
        """Where this actor runs and what it holds (for the pool's listing)."""
        ctx = ray.get_runtime_context()
        return {"pid": os.getpid(), "node_id": ctx.get_node_id(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "loads": self.loads,
                "load_seconds": round(self.load_seconds, 3), **self.models.describe()}

    def cancel(self, task_id: str) -> None:
        self.cancelled.add(task_id)

    async def run_batch(self, batch: list[Assignment], model: dict[str, Any] | None = None) -> list[AttemptResult]:
        """Serve ``batch``; ``model``: the catalogue entry (``ModelSpec.to_dict``) all its
        requests name, loaded here (outside the batch lock) if this actor does not hold it."""
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_progress())
        if model is None:
            return await self._run_batch(batch, None)
        started = time.monotonic()
        spec = ModelSpec.from_dict(model)
        waiting = self.waiting.setdefault(spec.key, {})
        waiting.update((a.task_id, a.attempt) for a in batch)
        async with contextlib.AsyncExitStack() as stack:
            try:
                loaded = await stack.enter_async_context(self.models.use(spec))
            except Exception as exc:  # the weights could not be fetched, verified or loaded
                for a in batch:  # the result says it all
                    self.progress.pop(a.task_id, None)
                    self._told.discard(a.task_id)
                return [error_result(a, exc, started) for a in batch]
            finally:
                for a in batch:
                    waiting.pop(a.task_id, None)
                if not waiting:
                    self.waiting.pop(spec.key, None)
            for a in batch:
                if a.task_id in self._told:  # its progress said the load: the work's own from now
                    self._told.discard(a.task_id)
                    self.progress[a.task_id] = (a.attempt, 0.0, None)
            return await self._run_batch(batch, loaded)

    def _fetch(self, spec: ModelSpec) -> Weights:
        """The weights of ``spec`` on this node (in a load thread), its state kept in ``loading``."""
        key = spec.key

        def report(name: str, state: str, done: int, total: int) -> None:
            self.loading[key] = {"model": spec.name, "weights": name, "state": state, "bytes_done": done,
                                 "bytes_total": total}

        try:
            weights = fetch_weights(spec, self.settings, report)
        except BaseException:
            self.loading.pop(key, None)
            raise
        self.loading[key] = {"model": spec.name, "weights": spec.name, "state": "loading",
                             "bytes_done": weights.total_bytes, "bytes_total": weights.total_bytes}
        return weights

    def _load(self, spec: ModelSpec, weights: Weights) -> Any:
        try:
            return self.provider.load_catalogue_model(spec, weights)
        finally:
            self.loading.pop(spec.key, None)

    async def _run_batch(self, batch: list[Assignment], loaded: Any) -> list[AttemptResult]:
        async with self._lock:  # one batch at a time; the next one waits here, already delivered
            started = time.monotonic()
            results: dict[int, AttemptResult] = {}
            items: list[tuple[int, Assignment, Any, AttemptContext]] = []
            for i, a in enumerate(batch):
                if a.task_id in self.cancelled:
                    results[i] = AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled")
                    continue
                try:
                    request = recheck_at_worker(a)
                except InvalidInput as exc:
                    results[i] = error_result(a, exc, started)
                    continue
                items.append((i, a, request, self._context(a)))
            if items:
                for i, result in zip([it[0] for it in items], await self._serve(items, started, loaded), strict=True):
                    results[i] = result
            for a in batch:
                self.cancelled.discard(a.task_id)
                self.progress.pop(a.task_id, None)  # the result says it all
            return [results[i] for i in range(len(batch))]

    def _context(self, a: Assignment) -> AttemptContext:
        def on_progress(value: float, message: str | None) -> None:
            # kept here and sent for the whole batch at once (one Scheduler call, not one per item)
            self.progress[a.task_id] = (a.attempt, value, message)

        return AttemptContext(
            a.task_id, a.attempt, self.settings, provider=self.provider.name, user_id=a.user_id,
            expected_inputs=a.expected_inputs(),
            on_progress=on_progress, is_cancelled=lambda: a.task_id in self.cancelled,
            write_artifact=self._write, progress_interval=0.0,
        )

    async def _flush_progress(self) -> None:
        """Send the progress of every item in flight, and the state of the models loading here
        when it changed, at most every ``_PROGRESS_SECONDS``."""
        while True:
            await asyncio.sleep(_PROGRESS_SECONDS)
            loading = dict(self.loading)
            for key, state in loading.items():
                fraction, message = load_progress(state)
                for task_id, attempt in list(self.waiting.get(key, {}).items()):
                    self.progress[task_id] = (attempt, fraction, message)
                    self._told.add(task_id)
            if self.progress:
                sent, self.progress = self.progress, {}
                self.scheduler.report.remote([], [(t, *p) for t, p in sent.items()])
            states = list(loading.values())
            if states != self._loading_sent:
                self._loading_sent = states
                self.scheduler.pool_loading.remote(self.provider.name, self.member_id, states)

    async def _serve(self, items: list[tuple[int, Assignment, Any, AttemptContext]],
                     started: float, loaded: Any = None) -> list[AttemptResult]:
        try:
            outs = await self._call([it[2] for it in items], [it[3] for it in items], loaded)
        except BaseException as exc:
            if isinstance(exc, SystemExit | KeyboardInterrupt):
                raise
            if len(items) > 1 and not isinstance(exc, ProviderTimeout | asyncio.CancelledError):
                # the batch as a whole failed: serve each item alone so one bad item fails alone
                return [r for it in items for r in await self._serve([it], started, loaded)]
            outs = [exc] * len(items)
        finally:
            for it in items:
                it[3].close()
        now = time.monotonic()
        out: list[AttemptResult] = []
        for (_, a, request, ctx), value in zip(items, outs, strict=True):
            if isinstance(value, BaseException):
                out.append(error_result(a, value, started))
            elif ctx.cancelled:
                out.append(error_result(a, asyncio.CancelledError(), started))
            elif (bad := _output_error(value, self.settings.max_output_bytes)) is not None:
                out.append(error_result(a, bad, started))  # as run_attempt does: never a poison row
            else:
                cost = ctx.cost if ctx.cost is not None else self.provider.estimate_cost(request)
                out.append(AttemptResult(a.task_id, a.attempt, True, output=value, cost=cost, duration=now - started))
        node = this_node()
        for r in out:
            r.node = node
        return out

    async def _call(self, requests: list[Any], ctxs: list[AttemptContext], loaded: Any = None) -> list[Any]:
        call = self.provider.run_batch(requests, ctxs) if loaded is None else \
            self.provider.run_model_batch(loaded, requests, ctxs)
        try:
            outs = await asyncio.wait_for(contained(call), self.timeout)
        except TimeoutError as exc:
            raise ProviderTimeout(f"batch of {len(requests)} timed out after {self.timeout:g} s") from exc
        if not isinstance(outs, list) or len(outs) != len(requests):
            got = len(outs) if isinstance(outs, list) else repr(outs)
            raise RetryableError(f"{self.provider.name}.run_batch returned {got} results for {len(requests)} requests")
        return outs


def load_progress(state: dict[str, Any]) -> tuple[float, str]:
    """``(fraction, message)`` a task waiting for a model shows, from the model's state here."""
    name, weights, done, total = state["model"], state["weights"], state["bytes_done"], state["bytes_total"]
    fraction = done / total if total else 0.0
    of = f"weights of {name}" if weights == name else f"weights of {weights} (the base of {name})"
    if state["state"] == "waiting":
        return fraction, f"waiting for another download of {weights} on this node"
    if state["state"] == "downloading":
        return fraction, f"downloading {of}: {done / 1e6:.1f} of {total / 1e6:.1f} MB"
    if state["state"] == "verifying":
        return fraction, f"verifying {of}"
    return fraction, f"loading {name}"


def _output_error(value: Any, max_bytes: int) -> InvalidOutput | None:
    try:
        check_output(value, max_bytes)
    except InvalidOutput as exc:
        return exc
    return None


__all__ = ["ModelActor", "load_progress"]
