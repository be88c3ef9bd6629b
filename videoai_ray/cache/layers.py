"""The local cache layers: L1 in process memory, L3 on disk.

Every layer speaks the same small batch interface (:class:`Layer`) over :class:`CacheEntry` values:
the output as JSON text plus its absolute expiry in wall-clock seconds. Keeping the text (not
the dict) means a hit hands every caller a fresh object that nobody else can mutate, and an
entry moves between layers without being decoded and re-encoded. The absolute expiry lets a
lower-layer hit fill an upper layer for no longer than the entry has left to live.
"""

from __future__ import annotations

import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import diskcache
from cachetools import TTLCache


class CacheEntry(NamedTuple):
    """One cached output: its JSON text and the wall-clock time (``time.time()``) it expires."""

    text: str
    expires_at: float


class Layer(ABC):
    """One cache tier. Methods may raise; :class:`~videoai_ray.cache.TieredCache` turns a failure
    into a miss, so a layer stays simple and honest about errors."""

    #: ``"l1"``, ``"l2"`` or ``"l3"``; the name stats and hits report
    name: str
    #: lifetime of an entry written to this layer, in seconds
    ttl: float

    @abstractmethod
    def get_many(self, keys: list[str]) -> dict[str, CacheEntry]:
        """The live entries among ``keys`` (absent keys are misses)."""

    @abstractmethod
    def put_many(self, entries: Mapping[str, CacheEntry]) -> None:
        """Store entries; each expires at its own ``expires_at`` (never later than ``ttl``)."""

    @abstractmethod
    def delete_many(self, keys: Iterable[str]) -> None:
        """Drop these keys if present."""

    @abstractmethod
    def clear(self) -> None:
        """Drop every entry this layer holds."""

    @abstractmethod
    def size(self) -> dict[str, Any]:
        """``{"size": entries}`` plus layer-specific figures (``bytes`` for disk)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most layers hold nothing
        """Release connections and files."""


class MemoryLayer(Layer):
    """L1: a bounded LRU with a TTL (``cachetools.TTLCache``) in this process.

    ``TTLCache`` gives the layer-wide TTL on a monotonic clock and least-recently-used eviction;
    the bound is in bytes (``max_bytes``, each entry counted by the memory its text takes) as well
    as in entries (``maxsize``), whichever is reached first, so a few large outputs cannot grow the
    process without end. An entry larger than the whole byte bound is not kept here. The per-entry
    ``expires_at`` additionally cuts short an entry filled from a lower layer that had less time
    left. A lock makes it safe for a threaded actor.
    """

    name = "l1"

    def __init__(self, maxsize: int, ttl: float, max_bytes: int | None = None) -> None:
        if maxsize < 1 or ttl <= 0 or (max_bytes is not None and max_bytes < 1):
            raise ValueError("L1 needs maxsize >= 1, ttl > 0 and max_bytes >= 1")
        self.ttl = ttl
        self.maxsize = maxsize
        self.max_bytes = max_bytes if max_bytes is not None else maxsize * _DEFAULT_ENTRY_BYTES
        self._data: TTLCache[str, CacheEntry] = TTLCache(maxsize=self.max_bytes, ttl=ttl, getsizeof=_entry_bytes)
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> dict[str, CacheEntry]:
        now = time.time()
        found: dict[str, CacheEntry] = {}
        with self._lock:
            for key in keys:
                entry = self._data.get(key)  # a read also marks the key as recently used
                if entry is None:
                    continue
                if entry.expires_at <= now:
                    del self._data[key]
                    continue
                found[key] = entry
        return found

    def put_many(self, entries: Mapping[str, CacheEntry]) -> None:
        with self._lock:
            for key, entry in entries.items():
                if _entry_bytes(entry) > self.max_bytes:
                    self._data.pop(key, None)  # too big for L1: the lower layers keep it
                    continue
                self._data[key] = entry
                while len(self._data) > self.maxsize:
                    self._data.popitem()  # the least recently used

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def size(self) -> dict[str, Any]:
        with self._lock:
            self._data.expire()
            return {"size": len(self._data), "bytes": int(self._data.currsize)}


#: the byte bound of an L1 built without one: this much per entry on average
_DEFAULT_ENTRY_BYTES = 64 * 1024


def _entry_bytes(entry: CacheEntry) -> int:
    """The memory an entry's text takes (``sys.getsizeof``: characters plus the str header)."""
    return sys.getsizeof(entry.text)


class DiskLayer(Layer):
    """L3: a ``diskcache.Cache`` folder, bounded in bytes with least-recently-used eviction.

    diskcache enforces the bound as it writes (culling the least recently *read* entries first,
    since reads update the access time) and keeps per-entry expiry in SQLite, so entries survive
    a restart of the actor and can be shared by processes on one node. Batches run in one SQLite
    transaction each.

    The folder is opened at the first use, not in the constructor: a full or missing disk makes
    that use fail (a miss, and the layer backs off; see ``TieredCache``), never the Scheduler's
    start, and the layer opens once the disk is back.
    """

    name = "l3"

    def __init__(
        self, directory: Path, size_limit_bytes: int, ttl: float, *, lock_timeout: float = 2.0
    ) -> None:
        if size_limit_bytes < 1 or ttl <= 0:
            raise ValueError("L3 needs size_limit_bytes >= 1 and ttl > 0")
        self.ttl = ttl
        self.directory = Path(directory)
        self.size_limit_bytes = size_limit_bytes
        self.lock_timeout = lock_timeout
        self._opened: diskcache.Cache | None = None

    @property
    def _cache(self) -> diskcache.Cache:
        if self._opened is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            # A short lock timeout: another process holding the SQLite lock must cost a lookup a
            # miss (diskcache.Timeout, counted by TieredCache), not a minute-long stall.
            self._opened = diskcache.Cache(
                str(self.directory),
                timeout=self.lock_timeout,
                size_limit=self.size_limit_bytes,
                eviction_policy="least-recently-used",
            )
        return self._opened

    def get_many(self, keys: list[str]) -> dict[str, CacheEntry]:
        found: dict[str, CacheEntry] = {}
        cache = self._cache
        now = time.time()
        with cache.transact():
            for key in keys:
                text, expire_time = cache.get(key, default=None, expire_time=True)
                if text is None:
                    continue
                found[key] = CacheEntry(text, expire_time if expire_time is not None else now + self.ttl)
        return found

    def put_many(self, entries: Mapping[str, CacheEntry]) -> None:
        cache = self._cache  # opened (the first time) before the clock is read
        now = time.time()
        with cache.transact():
            for key, entry in entries.items():
                cache.set(key, entry.text, expire=max(entry.expires_at - now, 0.001))

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._cache.transact():
            for key in keys:
                self._cache.delete(key)

    def clear(self) -> None:
        self._cache.clear()

    def size(self) -> dict[str, Any]:
        self._cache.expire()
        return {"size": len(self._cache), "bytes": self._cache.volume()}

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
