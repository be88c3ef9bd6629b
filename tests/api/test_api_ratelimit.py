"""Rate limits per user and endpoint: over HTTP on the running server (Redis-backed when Redis
runs), in memory through an in-process app, and both limiter back ends directly."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import redis
from served_api import Api, error_of, skip_or_fail, unique

from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter, RedisRateLimiter, make_limiter


def test_429_with_retry_after_per_user_and_endpoint(api: Api) -> None:
    user = unique("limited")
    c = api.client(user, rate_limit=3)
    assert [c.get("/statistics").status_code for _ in range(3)] == [200, 200, 200]
    r = c.get("/statistics")
    assert r.status_code == 429
    err = error_of(r)
    assert err["code"] == "rate_limited" and "3 requests per minute" in err["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 61
    assert c.get("/providers").status_code == 200  # another endpoint has its own budget
    assert api.client(unique("other"), rate_limit=3).get("/statistics").status_code == 200  # another user too


def test_server_counts_in_redis_when_it_has_redis(api: Api) -> None:
    if not api.settings.redis_url:
        skip_or_fail("Redis is not running on 127.0.0.1:6379")
    assert api.settings.redis_url
    user = unique("shared")
    api.client(user, rate_limit=5).get("/statistics")
    keys = redis.Redis.from_url(api.settings.redis_url).keys(f"videoai:ratelimit:t-api:{user}:*")
    assert len(keys) == 1 and b"GET /api/v1/media/statistics" in keys[0]


def test_in_memory_limit_over_http(api: Api) -> None:
    """The in-memory back end behind a real app on the real Scheduler (in-process)."""
    from videoai_ray.scheduler import get_or_create_scheduler

    ctx = ApiContext.start(api.settings, get_or_create_scheduler(api.settings), MemoryRateLimiter())
    app = create_app(ctx)
    headers = {"Authorization": f"Bearer {create_token(api.settings, unique('mem'), rate_limit=2)}"}

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api/v1/media",
                                     headers=headers) as c:
            return [await c.get("/statistics") for _ in range(3)]

    codes = [r.status_code for r in asyncio.run(go())]
    assert codes == [200, 200, 429]


def test_memory_limiter() -> None:
    async def go() -> list[float | None]:
        lim = MemoryRateLimiter()
        out = [await lim.hit("u:GET /a", 2) for _ in range(3)]
        out.append(await lim.hit("u:GET /b", 2))
        return out

    a, b, c, d = asyncio.run(go())
    assert a is None and b is None and d is None
    assert c is not None and 0 < c <= 60


@pytest.mark.redis
def test_redis_limiter_is_shared_between_instances(redis_url: str) -> None:
    prefix = f"videoai:ratelimit:test-{uuid.uuid4().hex[:8]}"

    async def go() -> list[float | None]:
        one, two = RedisRateLimiter(redis_url, prefix), RedisRateLimiter(redis_url, prefix)
        try:  # two replicas share one budget
            return [await one.hit("u:GET /a", 3), await two.hit("u:GET /a", 3), await one.hit("u:GET /a", 3),
                    await two.hit("u:GET /a", 3), await two.hit("v:GET /a", 3)]
        finally:
            await one.close()
            await two.close()

    out = asyncio.run(go())
    assert out[:3] == [None, None, None] and out[4] is None
    assert out[3] is not None and 0 < out[3] <= 60
    r = redis.Redis.from_url(redis_url)
    [key] = r.keys(f"{prefix}:u:*")
    assert int(r.get(key)) == 4 and 0 < r.pttl(key) <= 61_000


def test_redis_limiter_falls_back_to_memory_when_redis_is_down() -> None:
    async def go() -> list[float | None]:
        lim = RedisRateLimiter("redis://127.0.0.1:1/0", "videoai:ratelimit:down", retry_after=30)
        try:
            return [await lim.hit("u:GET /a", 1) for _ in range(2)]
        finally:
            await lim.close()

    first, second = asyncio.run(go())
    assert first is None and second is not None


def test_make_limiter_follows_settings(api: Api) -> None:
    assert make_limiter(api.settings.model_copy(update={"redis_url": None})).backend == "memory"
    assert make_limiter(api.settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/15"})).backend == "redis"
