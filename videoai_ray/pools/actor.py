"""``ModelActor``: one member of a model provider's pool.

It calls ``provider.load()`` once when it starts and keeps the weights; then it serves batches of
attempts, one ``run_batch`` at a time (one forward pass on its device), and turns every item's
outcome into an ``AttemptResult`` (``attempts.AttemptRunner.run_batch``, the one way an attempt
runs): an item that fails, is cancelled or has bad input fails alone.

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
from ..attempts import AttemptRunner, error_result
from ..catalogue.spec import ModelSpec
from ..catalogue.weights import Weights
from ..catalogue.weights import fetch as fetch_weights
from ..logs import configure_logging
from ..protocol import Assignment, AttemptResult
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
        self.runner = AttemptRunner(provider, settings, sink, progress_interval=0.0, on_progress=self._note_progress,
                                    is_cancelled=lambda a: a.task_id in self.cancelled)
        self.runner.writer()  # a store that cannot be opened fails the actor's start, not its batches
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
            results = await self.runner.run_batch(batch, loaded)
            for a in batch:
                self.cancelled.discard(a.task_id)
                self.progress.pop(a.task_id, None)  # the result says it all
            return results

    def _note_progress(self, a: Assignment, value: float, message: str | None) -> None:
        # kept here and sent for the whole batch at once (one Scheduler call, not one per item)
        self.progress[a.task_id] = (a.attempt, value, message)

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



__all__ = ["ModelActor", "load_progress"]
