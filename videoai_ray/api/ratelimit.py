"""Per-user, per-endpoint rate limits: fixed one-minute windows.

With ``settings.redis_url`` the counters live in Redis (one atomic ``INCR`` + ``PEXPIRE`` Lua call
per request), so every Serve replica shares them; otherwise they live in the replica's memory.
When Redis cannot be reached the limiter falls back to memory for a while and logs it, rather
than failing requests or letting them through unlimited.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

from ..settings import Settings

log = logging.getLogger("videoai.api")

WINDOW_SECONDS = 60.0

_LUA_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RequestRateLimiter(Protocol):
    """``hit`` counts one request; it answers ``None`` when allowed, else seconds to wait."""

    backend: str

    async def hit(self, key: str, limit: int) -> float | None: ...

    async def close(self) -> None: ...


def _window(now: float) -> tuple[int, float]:
    """The current window's number and the seconds left in it."""
    slot = int(now // WINDOW_SECONDS)
    return slot, (slot + 1) * WINDOW_SECONDS - now


class MemoryRateLimiter:
    """Counters in this process (one replica); old windows are dropped as time moves on."""

    backend = "memory"

    def __init__(self) -> None:
        self._slot = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str, limit: int) -> float | None:
        slot, left = _window(time.time())
        if slot != self._slot:
            self._slot, self._counts = slot, {}
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        return None if n <= limit else left

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """Counters in Redis, shared by every replica of the deployment."""

    backend = "redis"

    def __init__(self, url: str, prefix: str, retry_after: float = 5.0) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_after = retry_after
        self._client: Any = None
        self._script: Any = None
        self._fallback = MemoryRateLimiter()
        self._down_until = 0.0

    def _connect(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
            self._script = self._client.register_script(_LUA_HIT)
        return self._script

    async def hit(self, key: str, limit: int) -> float | None:
        now = time.time()
        if now < self._down_until:
            return await self._fallback.hit(key, limit)
        slot, left = _window(now)
        try:
            script = self._connect()
            n = int(await script(keys=[f"{self.prefix}:{key}:{slot}"],
                                 args=[math.ceil((left + 1.0) * 1000)]))
        except Exception:
            # Redis is down or unreachable: limit per replica until it is back.
            log.warning("rate limiter: Redis unreachable, using memory for %.0f s", self.retry_after, exc_info=True)
            self._down_until = now + self.retry_after
            return await self._fallback.hit(key, limit)
        return None if n <= limit else left

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def make_limiter(settings: Settings) -> RequestRateLimiter:
    """Redis-backed when the deployment has Redis, in memory otherwise."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, f"videoai:ratelimit:{settings.instance}",
                                settings.cache_retry_after)
    return MemoryRateLimiter()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
