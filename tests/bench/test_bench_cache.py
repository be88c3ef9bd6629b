"""The cache benchmark runs, reports every layer it has, and leaves nothing behind."""

from __future__ import annotations

import pytest
import redis

from videoai_bench.cache import run_cache_benchmarks
from videoai_ray.settings import Settings


def names(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["benchmark"]) for r in rows]


def check_rows(rows: list[dict[str, object]]) -> None:
    for row in rows:
        assert {"benchmark", "value", "unit"} <= set(row) <= {"benchmark", "value", "unit", "baseline", "ratio"}
        if row["benchmark"].endswith(".hit") and "baseline" in row:
            assert row["ratio"] > 0
        assert row["unit"] in ("us", "ms")
        assert isinstance(row["value"], float) and row["value"] > 0


def test_benchmark_without_redis(settings: Settings) -> None:
    rows = run_cache_benchmarks(settings, lookups=40, batch=20, repeats=2)
    check_rows(rows)
    assert names(rows) == [
        "cache.put_many_20",
        "cache.l1.hit",
        "cache.l3.hit",
        "cache.miss",
        "cache.l1.hit_batch_20",
        "cache.l3.hit_batch_20",
        "cache.miss_batch_20",
    ]
    assert not (settings.home / "cache").exists()  # the user's L3 is never touched


@pytest.mark.redis
def test_benchmark_with_redis(settings: Settings, redis_url: str) -> None:
    rows = run_cache_benchmarks(settings.model_copy(update={"redis_url": redis_url}), lookups=40, batch=20)
    check_rows(rows)
    assert {"cache.l2.hit", "cache.l2.hit_batch_20"} <= set(names(rows))
    by_name = {r["benchmark"]: r["value"] for r in rows}
    assert by_name["cache.l1.hit"] < by_name["cache.l2.hit"]
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0  # its one-off namespace is gone
    client.close()
