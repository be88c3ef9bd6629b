"""The multi-layer cache the Scheduler consults for every chunk of submitted tasks.

Lookups go L1 (memory) → L2 (Redis, when configured) → L3 (disk), each layer asked once per
batch for the keys the layers above missed. A hit in a lower layer fills the layers above it,
each with its own TTL but never past the time the entry expires where it was found, so a
value is never served longer than it was originally promised. Writes go to every layer.

A layer that fails (Redis gone, disk trouble) must never fail a submission: the error is logged
with its traceback, counted in :meth:`TieredCache.stats`, and the lookup carries on as a miss.
The failed layer is then skipped for ``retry_after`` seconds (so a dead Redis costs one timeout
per interval, not one per chunk) and tried again afterwards; redis-py reconnects by itself.

Nothing happens at import time: the Scheduler builds the cache inside its actor with
:meth:`TieredCache.from_settings`. Pickling a cache built that way ships its settings, not
its contents or connections.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .layers import CacheEntry, DiskLayer, Layer, MemoryLayer
from .redis_layer import RedisLayer

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger("videoai.cache")

#: seconds a failed layer is skipped before it is tried again (until ``Settings`` has
#: ``cache_retry_after``)
DEFAULT_RETRY_AFTER = 5.0
#: L2 entry bound used until ``Settings`` has ``cache_l2_size``
DEFAULT_L2_SIZE = 100_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A cached output and the layer (``"l1"``, ``"l2"``, ``"l3"``) that served it."""

    value: Any
    layer: str


@dataclass(slots=True)
class _LayerStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0


class TieredCache:
    """L1 → L2 → L3 lookups with fill-up, batch reads and writes, and per-layer stats.

    ``layers`` run top (fastest) to bottom; an empty list gives a cache that always misses
    (``cache_enabled=False``). Not thread-safe beyond what each layer guarantees.
    """

    def __init__(self, layers: Iterable[Layer], *, retry_after: float = DEFAULT_RETRY_AFTER) -> None:
        self.layers: list[Layer] = list(layers)
        self.retry_after = retry_after
        self._stats = {layer.name: _LayerStats() for layer in self.layers}
        self._down_until = {layer.name: 0.0 for layer in self.layers}
        self._settings: Settings | None = None
        self._lookups = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> TieredCache:
        """The layers ``settings`` asks for: L1 and L3 always (when enabled and sized), L2 only
        when ``redis_url`` is set. L3 lives in ``<home>/cache``."""
        layers: list[Layer] = []
        if settings.cache_enabled:
            if settings.cache_l1_size > 0 and settings.cache_l1_ttl > 0:
                layers.append(MemoryLayer(settings.cache_l1_size, settings.cache_l1_ttl,
                                          int(settings.cache_l1_max_mb * 1024 * 1024)))
            l2_size = int(getattr(settings, "cache_l2_size", DEFAULT_L2_SIZE))
            if settings.redis_url and l2_size > 0 and settings.cache_l2_ttl > 0:
                layers.append(RedisLayer(settings.redis_url, settings.cache_l2_ttl, l2_size))
            if settings.cache_l3_size_mb > 0 and settings.cache_l3_ttl > 0:
                layers.append(
                    DiskLayer(
                        settings.home / "cache",
                        settings.cache_l3_size_mb * 1024 * 1024,
                        settings.cache_l3_ttl,
                    )
                )
        cache = cls(layers, retry_after=float(getattr(settings, "cache_retry_after", DEFAULT_RETRY_AFTER)))
        cache._settings = settings
        return cache

    def __reduce__(self) -> tuple[Callable[..., TieredCache], tuple[Any, ...]]:
        if self._settings is None:
            raise TypeError("only a TieredCache built with from_settings() can be pickled")
        return (TieredCache.from_settings, (self._settings,))

    @property
    def enabled(self) -> bool:
        return bool(self.layers)

    # -- failure handling --

    def _guarded(self, layer: Layer, what: str, call: Callable[[], T], fallback: T) -> T:
        """Run ``call`` against ``layer``; on failure log, count, back off and return ``fallback``."""
        if time.monotonic() < self._down_until[layer.name]:
            return fallback
        try:
            return call()
        except Exception:
            self._stats[layer.name].errors += 1
            self._down_until[layer.name] = time.monotonic() + self.retry_after
            log.warning(
                "cache layer %s failed during %s; treating it as a miss and retrying in %.0f s",
                layer.name,
                what,
                self.retry_after,
                exc_info=True,
            )
            return fallback

    def down(self) -> list[str]:
        """The layers skipped now because their last call failed (they are tried again after
        ``retry_after``)."""
        now = time.monotonic()
        return [layer.name for layer in self.layers if now < self._down_until[layer.name]]

    # -- reads --

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheHit]:
        """Hits among ``keys`` (misses are absent), each layer asked once for what is left."""
        wanted = list(dict.fromkeys(keys))
        self._lookups += len(wanted)
        hits: dict[str, CacheHit] = {}
        for depth, layer in enumerate(self.layers):
            if not wanted:
                break
            none: dict[str, CacheEntry] = {}
            found = self._guarded(layer, "get", partial(layer.get_many, wanted), none)
            stats = self._stats[layer.name]
            stats.hits += len(found)
            stats.misses += len(wanted) - len(found)
            if not found:
                continue
            if depth:
                self._fill(self.layers[:depth], found)
            for key, entry in found.items():
                hits[key] = CacheHit(json.loads(entry.text), layer.name)
            wanted = [k for k in wanted if k not in found]
        return hits

    def get(self, key: str) -> CacheHit | None:
        """The hit for one key, or ``None``."""
        return self.get_many([key]).get(key)

    def _fill(self, upper: list[Layer], found: Mapping[str, CacheEntry]) -> None:
        now = time.time()
        for layer in upper:
            limit = now + layer.ttl
            entries = {k: CacheEntry(e.text, min(e.expires_at, limit)) for k, e in found.items()}
            self._guarded(layer, "fill", partial(layer.put_many, entries), None)

    # -- writes --

    def put_many(self, values: Mapping[str, Any]) -> None:
        """Store outputs in every layer, each with that layer's TTL.

        Values must be JSON data; anything else raises ``TypeError``/``ValueError`` before any
        layer is touched (a caller bug, unlike a layer failure).
        """
        if not values or not self.layers:
            return
        texts = {
            k: json.dumps(v, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            for k, v in values.items()
        }
        now = time.time()
        for layer in self.layers:
            entries = {k: CacheEntry(t, now + layer.ttl) for k, t in texts.items()}
            self._guarded(layer, "put", partial(layer.put_many, entries), None)

    def put(self, key: str, value: Any) -> None:
        """Store one output in every layer."""
        self.put_many({key: value})

    def delete(self, key: str) -> None:
        """Drop ``key`` from every layer (e.g. when a cached artifact turns out to be gone)."""
        for layer in self.layers:
            self._guarded(layer, "delete", partial(layer.delete_many, [key]), None)

    def clear(self) -> None:
        """Drop every entry from every layer; stats are kept."""
        for layer in self.layers:
            self._guarded(layer, "clear", layer.clear, None)

    # -- observability --

    def stats(self) -> dict[str, Any]:
        """Per layer ``hits``, ``misses``, ``errors``, ``size`` (entries; ``None`` when the layer
        cannot say) and, for l3, ``bytes``; plus ``total`` lookups, hits and hit rate.

        A lookup that misses in L1 and hits in L3 counts as an l1 miss, an l2 miss and an l3 hit;
        a lookup skipped because its layer is backing off counts as a miss there. l2 ``size`` is
        its index, which may still list a few entries Redis has already expired.
        """
        out: dict[str, Any] = {}
        for layer in self.layers:
            st = self._stats[layer.name]
            row: dict[str, Any] = {"hits": st.hits, "misses": st.misses, "errors": st.errors}
            row.update(self._guarded(layer, "stats", layer.size, {"size": None}))
            out[layer.name] = row
        total_hits = sum(s.hits for s in self._stats.values())
        lookups = self._lookups
        out["total"] = {
            "lookups": lookups,
            "hits": total_hits,
            "misses": lookups - total_hits,
            "hit_rate": total_hits / lookups if lookups else 0.0,
        }
        return out

    def close(self) -> None:
        """Close connections and files; the cache must not be used afterwards."""
        for layer in self.layers:
            try:
                layer.close()
            except Exception:
                log.warning("closing cache layer %s failed", layer.name, exc_info=True)
