"""L2 against the machine's real Redis (db 15, flushed by the ``redis_url`` fixture)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.client import Pipeline

from videoai_ray.cache import CacheEntry, RedisLayer
from videoai_ray.cache import redis_layer as redis_layer_mod

pytestmark = pytest.mark.redis

TTL = 0.5


def entry(text: str = '{"url":"s3://b/a.png"}', ttl: float = 60.0) -> CacheEntry:
    return CacheEntry(text, time.time() + ttl)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def layer(redis_url: str) -> Iterator[RedisLayer]:
    l2 = RedisLayer(redis_url, ttl=60.0, max_entries=10_000)
    yield l2
    l2.close()


def test_round_trip_uses_namespaced_keys_with_a_ttl(layer: RedisLayer, raw: redis.Redis) -> None:
    e = entry(ttl=30.0)
    layer.put_many({"v1:abc": e})
    got = layer.get_many(["v1:abc", "v1:nope"])
    assert list(got) == ["v1:abc"]
    assert got["v1:abc"].text == e.text
    assert got["v1:abc"].expires_at == pytest.approx(e.expires_at, abs=1e-3)
    assert raw.exists("videoai:cache:v1:abc")
    assert 28_000 < raw.pttl("videoai:cache:v1:abc") <= 30_000
    assert raw.zscore("videoai:cache:_index", "videoai:cache:v1:abc") is not None
    assert layer.size() == {"size": 1}


def test_entry_expires(redis_url: str, raw: redis.Redis) -> None:
    l2 = RedisLayer(redis_url, ttl=TTL, max_entries=10)
    l2.put_many({"k": entry(ttl=TTL)})
    assert "k" in l2.get_many(["k"])
    time.sleep(TTL + 0.1)
    assert l2.get_many(["k"]) == {}
    assert not raw.exists("videoai:cache:k")
    l2.close()


def test_bounded_by_max_entries_least_recently_used_first(redis_url: str, raw: redis.Redis) -> None:
    l2 = RedisLayer(redis_url, ttl=60.0, max_entries=5)
    for i in range(5):
        l2.put_many({f"k{i}": entry()})
    assert set(l2.get_many(["k0"])) == {"k0"}  # k0 becomes the most recently used
    l2.put_many({"k5": entry(), "k6": entry()})
    assert raw.zcard("videoai:cache:_index") == 5
    present = set(l2.get_many([f"k{i}" for i in range(7)]))
    assert present == {"k0", "k3", "k4", "k5", "k6"}
    assert not raw.exists("videoai:cache:k1") and not raw.exists("videoai:cache:k2")
    l2.close()


def test_many_keys_in_one_round_trip(layer: RedisLayer, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 2 * redis_layer_mod.MGET_SLICE + 500
    layer.put_many({f"k{i}": entry(f'{{"i":{i}}}') for i in range(0, n, 2)})
    executes = 0
    real_execute = Pipeline.execute

    def counting(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        nonlocal executes
        executes += 1
        return real_execute(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counting)
    got = layer.get_many([f"k{i}" for i in range(n)])
    assert executes == 1
    assert len(got) == n // 2
    assert got["k42"].text == '{"i":42}'


def test_reloads_its_script_when_redis_lost_it(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A script text Redis has never seen stands in for a restarted Redis (no SCRIPT FLUSH on a
    # server others use).
    monkeypatch.setattr(redis_layer_mod, "MGET_TOUCH", redis_layer_mod.MGET_TOUCH + f"-- {time.time_ns()}\n")
    l2 = RedisLayer(redis_url, ttl=60.0, max_entries=10)
    l2.put_many({"k": entry()})
    assert "k" in l2.get_many(["k"])
    l2.close()


def test_delete_and_clear_touch_only_the_namespace(layer: RedisLayer, raw: redis.Redis) -> None:
    raw.set("someone:else", "1")
    layer.put_many({"a": entry(), "b": entry(), "c": entry()})
    layer.delete_many(["a"])
    assert set(layer.get_many(["a", "b", "c"])) == {"b", "c"}
    assert layer.size() == {"size": 2}
    layer.clear()
    assert layer.get_many(["b", "c"]) == {}
    assert raw.keys("videoai:cache:*") == []
    assert raw.get("someone:else") == b"1"


def test_a_foreign_value_is_a_miss_not_an_error(layer: RedisLayer, raw: redis.Redis) -> None:
    raw.set("videoai:cache:alien", "not our format")
    layer.put_many({"ours": entry()})
    assert set(layer.get_many(["alien", "ours"])) == {"ours"}
