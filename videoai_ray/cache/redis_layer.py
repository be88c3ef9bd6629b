"""L2: the cache shared by every node of a cluster, in Redis.

Layout, under one namespace (default ``videoai:cache:``):

- ``<ns><key>`` (so ``videoai:cache:v1:<sha256>``): a string ``"<expires_at>|<json>"``, written
  with a millisecond TTL (``SET … PX``), so Redis expires it on its own and sub-second TTLs work
  in tests;
- ``<ns>_index``: a sorted set of the keys scored by last access time. It bounds the layer:
  after a write that leaves it above ``max_entries``, the least recently used keys are popped
  and unlinked. Index members whose last access is older than the TTL are dropped on each write
  (their strings have certainly expired, since access never extends a TTL).

A batch is one round trip: a small Lua script (``MGET`` plus a ``ZADD XX`` recording each hit's
access, in slices of 1,000 keys, pipelined) to read; ``SET``s, ``ZADD`` and ``ZCARD`` pipelined
to write. The script names the value keys it touches in ``KEYS``, as Redis asks.

The client never retries on its own and has short socket timeouts: a Redis that is down must
cost a lookup little, and :class:`~videoai_ray.cache.TieredCache` backs off and treats it as a miss.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .layers import CacheEntry, Layer

#: the namespace every key of this layer lives under
DEFAULT_NAMESPACE = "videoai:cache:"
#: keys per MGET script call (several go in one pipelined round trip; Lua's unpack has a limit)
MGET_SLICE = 1000

#: MGET that also records the access of every key found (KEYS[1] is the index), so a hit costs
#: one round trip. ZADD XX only refreshes keys still indexed: a key trimmed meanwhile stays out.
MGET_TOUCH = """
local vals = redis.call('MGET', unpack(KEYS, 2))
for i = 1, #vals do
  if vals[i] then redis.call('ZADD', KEYS[1], 'XX', ARGV[1], KEYS[i + 1]) end
end
return vals
"""


class RedisLayer(Layer):
    """L2 over a Redis URL; see the module docstring for the key layout and the bound."""

    name = "l2"

    def __init__(
        self,
        url: str,
        ttl: float,
        max_entries: int,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout: float = 1.0,
        connect_timeout: float = 0.5,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("L2 needs ttl > 0 and max_entries >= 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self.namespace = namespace
        self.index_key = f"{namespace}_index"
        # No connection is opened here: redis-py connects lazily on the first command and
        # reconnects by itself on the command after a failure.
        self._redis: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        self._script_sha = hashlib.sha1(MGET_TOUCH.encode("utf-8")).hexdigest()

    def _rkey(self, key: str) -> str:
        return self.namespace + key

    def get_many(self, keys: list[str]) -> dict[str, CacheEntry]:
        if not keys:
            return {}
        now = time.time()
        try:
            chunks = self._mget_touch_slices(keys, now)
        except NoScriptError:  # Redis restarted or SCRIPT FLUSH: load it once more
            self._redis.script_load(MGET_TOUCH)
            chunks = self._mget_touch_slices(keys, now)
        raw: list[bytes | None] = [v or None for chunk in chunks for v in chunk]
        found: dict[str, CacheEntry] = {}
        for key, blob in zip(keys, raw, strict=True):
            if blob is None:
                continue
            stamp, _, text = blob.decode("utf-8", "replace").partition("|")
            try:
                expires_at = float(stamp)
            except ValueError:  # not written by this layer: a miss, not a broken L2
                continue
            if expires_at > now:
                found[key] = CacheEntry(text, expires_at)
        return found

    def _mget_touch_slices(self, keys: list[str], now: float) -> list[list[bytes | None]]:
        """Run the script over ``keys`` in slices, all in one round trip. ``EVALSHA`` goes in the
        pipeline directly: redis-py's script objects would add a ``SCRIPT EXISTS`` round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for start in range(0, len(keys), MGET_SLICE):
            rkeys = [self._rkey(k) for k in keys[start : start + MGET_SLICE]]
            pipe.evalsha(self._script_sha, len(rkeys) + 1, self.index_key, *rkeys, repr(now))
        return cast(list[list[bytes | None]], pipe.execute())

    def put_many(self, entries: Mapping[str, CacheEntry]) -> None:
        if not entries:
            return
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        stored: dict[str, float] = {}
        for key, entry in entries.items():
            ttl_ms = int((entry.expires_at - now) * 1000)
            if ttl_ms <= 0:
                continue
            rkey = self._rkey(key)
            pipe.set(rkey, f"{entry.expires_at!r}|{entry.text}", px=ttl_ms)
            stored[rkey] = now
        if not stored:
            return
        pipe.zadd(self.index_key, stored)
        pipe.zremrangebyscore(self.index_key, "-inf", now - self.ttl)
        pipe.zcard(self.index_key)
        count = int(pipe.execute()[-1])
        if count > self.max_entries:
            self._trim(count - self.max_entries)

    def _trim(self, excess: int) -> None:
        """Pop the ``excess`` least recently used keys from the index and unlink their values.
        ``ZPOPMIN`` is atomic, so concurrent writers never pop the same member twice."""
        popped = cast(list[tuple[bytes, float]], self._redis.zpopmin(self.index_key, excess))
        if popped:
            self._redis.unlink(*[member for member, _ in popped])

    def delete_many(self, keys: Iterable[str]) -> None:
        rkeys = [self._rkey(k) for k in keys]
        if not rkeys:
            return
        pipe = self._redis.pipeline(transaction=False)
        pipe.unlink(*rkeys)
        pipe.zrem(self.index_key, *rkeys)
        pipe.execute()

    def clear(self) -> None:
        batch: list[bytes] = []
        for rkey in self._redis.scan_iter(match=self.namespace + "*", count=1000):
            batch.append(rkey)
            if len(batch) >= 1000:
                self._redis.unlink(*batch)
                batch.clear()
        if batch:
            self._redis.unlink(*batch)
        self._redis.unlink(self.index_key)

    def size(self) -> dict[str, Any]:
        return {"size": int(self._redis.zcard(self.index_key))}

    def ping(self) -> bool:
        """True when Redis answers (used by benchmarks and health checks)."""
        return bool(self._redis.ping())

    def close(self) -> None:
        self._redis.close()
