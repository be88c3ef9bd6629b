"""``ModelActor``: one member of a model provider's pool.

It calls ``provider.load()`` once when it starts and keeps the weights; then it serves batches of
attempts, one ``run_batch`` at a time (one forward pass on its device), and turns every item's
outcome into an ``AttemptResult`` (``attempts.AttemptRunner.run_batch``, the one way an attempt
runs): an item that fails, is cancelled or has bad input fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import ray

from .. import metrics
from ..attempts import Assignment, AttemptResult, AttemptRunner, error_result
from ..catalogue.spec import ModelSpec
from ..catalogue.weights import fetch as fetch_weights
from ..logs import configure_logging
from ..providers.model import ModelProvider
from ..settings import Settings
from .multiplex import LoadedModels

_PROGRESS_SECONDS = 0.25


class ModelActor:
    """Holds one copy of the model; the pool manager in the Scheduler sends it batches."""

    def __init__(self, provider: ModelProvider, settings: Settings, scheduler: Any, sink: Any) -> None:
        configure_logging(settings)
        metrics.set_instance(settings.instance)
        self.provider = provider
        self.settings = settings
        self.scheduler = scheduler
        self.cancelled: set[str] = set()
        self.progress: dict[str, tuple[int, float]] = {}
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
                                   fetch=lambda spec: fetch_weights(spec, settings),
                                   load=provider.load_catalogue_model)

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
        if model is None:
            return await self._run_batch(batch, None)
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as stack:
            try:
                loaded = await stack.enter_async_context(self.models.use(ModelSpec.from_dict(model)))
            except Exception as exc:  # the weights could not be fetched, verified or loaded
                return [error_result(a, exc, started) for a in batch]
            return await self._run_batch(batch, loaded)

    async def _run_batch(self, batch: list[Assignment], loaded: Any) -> list[AttemptResult]:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_progress())
        async with self._lock:  # one batch at a time; the next one waits here, already delivered
            results = await self.runner.run_batch(batch, loaded)
            for a in batch:
                self.cancelled.discard(a.task_id)
                self.progress.pop(a.task_id, None)  # the result says it all
            return results

    def _note_progress(self, a: Assignment, value: float) -> None:
        # kept here and sent for the whole batch at once (one Scheduler call, not one per item)
        self.progress[a.task_id] = (a.attempt, value)

    async def _flush_progress(self) -> None:
        """Send the progress of every item in flight, at most every ``_PROGRESS_SECONDS``."""
        while True:
            await asyncio.sleep(_PROGRESS_SECONDS)
            if self.progress:
                sent, self.progress = self.progress, {}
                self.scheduler.report.remote([], [(t, att, v) for t, (att, v) in sent.items()])


__all__ = ["ModelActor"]
