"""Several catalogue models in one pool actor, as Ray Serve's model multiplexing keeps them.

``LoadedModels`` holds up to ``max_models`` loaded models, and at most ``memory_bytes`` of
weights (their size on disk is the estimate; 0: no limit). A batch pins its model while it waits
for and runs on the actor, so the model is never dropped under it; when a new one must load, the
least recently used unpinned ones go first. A model that alone is larger than the limit fails its
tasks as permanent. Loads run in a thread, outside the actor's batch lock: a cold model loads
while a warm one keeps serving. Each model loads once per actor (one load lock per model); its
weights come from ``catalogue.weights.fetch``, once per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..catalogue.spec import ModelSpec
from ..catalogue.weights import Weights
from ..errors import PermanentError


@dataclass
class Loaded:
    """One model held by the actor."""

    spec: ModelSpec
    value: Any
    nbytes: int
    load_seconds: float
    #: batches using it now (never dropped while > 0)
    pins: int = 0
    batches: int = 0


@dataclass
class LoadedModels:
    """The actor's loaded catalogue models, least recently used first."""

    max_models: int
    memory_bytes: int
    fetch: Callable[[ModelSpec], Weights]
    load: Callable[[ModelSpec, Weights], Any]
    items: OrderedDict[str, Loaded] = field(default_factory=OrderedDict)
    #: loads per model key since the actor started (a model dropped and needed again loads again)
    loads: dict[str, int] = field(default_factory=dict)
    downloads: int = 0
    evictions: int = 0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def use(self, spec: ModelSpec) -> AsyncIterator[Any]:
        """The loaded model of ``spec``, pinned for the block (loaded first if it is not)."""
        key = spec.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self.items.get(key)
            if entry is None:
                entry = await self._load(spec)
            entry.pins += 1
        self.items.move_to_end(key)
        try:
            entry.batches += 1
            yield entry.value
        finally:
            entry.pins -= 1

    async def _load(self, spec: ModelSpec) -> Loaded:
        weights = await asyncio.to_thread(self.fetch, spec)
        self.downloads += weights.downloaded + (weights.base.downloaded if weights.base else 0)
        need = weights.total_bytes
        if self.memory_bytes and need > self.memory_bytes:
            raise PermanentError(f"model {spec.name} needs about {need} bytes, more than a pool actor may hold "
                                 f"(VIDEOAI_MODEL_MEMORY_PER_ACTOR={self.memory_bytes})")
        self._make_room(need)
        started = time.monotonic()
        value = await asyncio.to_thread(self.load, spec, weights)
        entry = Loaded(spec, value, need, time.monotonic() - started)
        self.items[spec.key] = entry
        self.loads[spec.key] = self.loads.get(spec.key, 0) + 1
        return entry

    def _make_room(self, need: int) -> None:
        """Drop unpinned models, least recently used first, until one more of ``need`` bytes fits."""
        for key in list(self.items):
            over_count = len(self.items) + 1 > self.max_models
            over_memory = bool(self.memory_bytes) and self.held_bytes() + need > self.memory_bytes
            if not (over_count or over_memory):
                return
            if self.items[key].pins == 0:
                del self.items[key]
                self.evictions += 1

    def held_bytes(self) -> int:
        return sum(e.nbytes for e in self.items.values())

    def describe(self) -> dict[str, Any]:
        return {
            "models": [{"key": k, "name": e.spec.name, "revision": e.spec.revision, "bytes": e.nbytes,
                        "batches": e.batches, "load_seconds": round(e.load_seconds, 3), "loads": self.loads.get(k, 0)}
                       for k, e in self.items.items()],
            "model_loads": dict(self.loads), "model_downloads": self.downloads, "model_evictions": self.evictions,
            "model_bytes": self.held_bytes(),
        }


__all__ = ["Loaded", "LoadedModels"]
