"""TieredCache with a real L2: fill-up through Redis, and a Redis that goes away and comes back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from loopback import TcpProxy, free_port

from videoai_ray.cache import CacheHit, RedisLayer, TieredCache
from videoai_ray.settings import Settings

pytestmark = pytest.mark.redis

OUT = {"artifacts": [{"url": "s3://bucket/v.mp4"}]}


@pytest.fixture
def cache(settings: Settings, redis_url: str) -> Iterator[TieredCache]:
    c = TieredCache.from_settings(settings.model_copy(update={"redis_url": redis_url}))
    yield c
    c.close()


def test_layers_from_settings_with_redis(cache: TieredCache) -> None:
    assert [layer.name for layer in cache.layers] == ["l1", "l2", "l3"]
    l2 = cache.layers[1]
    assert isinstance(l2, RedisLayer) and l2.max_entries == 100_000 and l2.ttl == 86400.0


def test_l3_hit_fills_l2_and_l1_then_l2_serves(cache: TieredCache) -> None:
    l1, l2, _ = cache.layers
    cache.put("k", OUT)
    l1.clear()
    l2.clear()
    assert cache.get("k") == CacheHit(OUT, "l3")
    assert "k" in l2.get_many(["k"])
    l1.clear()
    assert cache.get("k") == CacheHit(OUT, "l2")
    assert cache.get("k") == CacheHit(OUT, "l1")
    stats = cache.stats()
    assert stats["l2"]["hits"] == 1 and stats["l2"]["misses"] == 1 and stats["l2"]["size"] == 1
    assert stats["l3"]["hits"] == 1


def test_redis_down_behaves_as_a_counted_miss(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/15"})
    cache = TieredCache.from_settings(down)
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="videoai.cache"):
        cache.put_many({"a": OUT, "b": OUT})
        hits = cache.get_many(["a", "b", "c"])
    assert time.monotonic() - t0 < 2.0
    assert {k: h.layer for k, h in hits.items()} == {"a": "l1", "b": "l1"}
    cache.layers[0].clear()
    assert cache.get("a") == CacheHit(OUT, "l3")
    stats = cache.stats()
    assert stats["l2"]["errors"] >= 1 and stats["l2"]["size"] is None
    assert stats["l2"]["misses"] == 2  # "c", then "a" while backing off
    assert stats["l2"]["hits"] == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all(r.exc_info for r in warnings)
    cache.close()


def test_redis_that_goes_away_and_comes_back(settings: Settings, redis_url: str) -> None:
    proxy = TcpProxy(("127.0.0.1", 6379))
    proxy.start()
    cache = TieredCache.from_settings(
        settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{proxy.port}/15"})
    )
    cache.retry_after = 0.5
    l1 = cache.layers[0]
    cache.put("before", OUT)  # connection open and working
    assert cache.stats()["l2"] == {"hits": 0, "misses": 0, "errors": 0, "size": 1}

    proxy.stop()  # Redis goes away under the open connection
    cache.put("during", OUT)
    l1.clear()
    assert cache.get("during") == CacheHit(OUT, "l3")
    assert cache.stats()["l2"]["errors"] == 1  # later calls skipped while backing off

    proxy.start()  # ...and comes back
    time.sleep(0.55)
    l1.clear()
    assert cache.get("before") == CacheHit(OUT, "l2")  # reconnected by itself
    assert cache.get("during") == CacheHit(OUT, "l3")  # written while L2 was down...
    l1.clear()
    assert cache.get("during") == CacheHit(OUT, "l2")  # ...and filled into it now
    assert cache.stats()["l2"]["errors"] == 1
    cache.close()
    proxy.stop()
