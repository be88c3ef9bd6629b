"""TieredCache: lookups through the layers, fill-up, stats, settings, pickling."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.cache import CacheEntry, CacheHit, DiskLayer, Layer, MemoryLayer, TieredCache
from videoai_ray.settings import Settings

OUT = {"artifacts": [{"url": "file:///tmp/a.png", "mime_type": "image/png"}], "cost": 0.0}


@pytest.fixture
def layers(tmp_path: Path) -> Iterator[tuple[MemoryLayer, DiskLayer]]:
    l1 = MemoryLayer(maxsize=100, ttl=60.0)
    l3 = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=600.0)
    yield l1, l3
    l3.close()


def test_put_then_get_hits_l1_and_returns_a_fresh_copy(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    cache = TieredCache(layers)
    cache.put("k", OUT)
    hit = cache.get("k")
    assert hit == CacheHit(OUT, "l1")
    hit.value["artifacts"].clear()  # a caller mutating its copy must not change the cache
    again = cache.get("k")
    assert again is not None and again.value == OUT
    assert cache.get("missing") is None


def test_lower_hit_fills_upper_layers(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    l1, l3 = layers
    cache = TieredCache(layers)
    l3.put_many({"k": CacheEntry('{"a":1}', time.time() + 300)})
    assert cache.get_many(["k", "x"]) == {"k": CacheHit({"a": 1}, "l3")}
    assert "k" in l1.get_many(["k"])
    assert cache.get("k") == CacheHit({"a": 1}, "l1")


def test_fill_never_outlives_the_entry_it_came_from(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    l1, l3 = layers
    cache = TieredCache(layers)
    deadline = time.time() + 0.5
    l3.put_many({"k": CacheEntry('{"a":1}', deadline)})
    assert cache.get("k") == CacheHit({"a": 1}, "l3")
    assert l1.get_many(["k"])["k"].expires_at == pytest.approx(deadline)  # not now + 60 s
    time.sleep(0.6)
    assert cache.get("k") is None


def test_fill_uses_the_upper_layer_ttl(tmp_path: Path) -> None:
    l1 = MemoryLayer(maxsize=10, ttl=0.5)
    l3 = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=60.0)
    cache = TieredCache([l1, l3])
    cache.put("k", OUT)
    assert cache.get("k").layer == "l1"  # type: ignore[union-attr]
    time.sleep(0.6)
    assert cache.get("k").layer == "l3"  # type: ignore[union-attr]  # L1 expired, L3 refills it
    assert cache.get("k").layer == "l1"  # type: ignore[union-attr]
    time.sleep(0.6)
    assert cache.get("k").layer == "l3"  # type: ignore[union-attr]
    l3.close()


def test_stats_count_hits_and_misses_per_layer(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    l1 = layers[0]
    cache = TieredCache(layers)
    cache.put_many({"a": OUT, "b": OUT})
    l1.delete_many(["b"])
    hits = cache.get_many(["a", "b", "c", "a"])  # duplicates are looked up once
    assert {k: h.layer for k, h in hits.items()} == {"a": "l1", "b": "l3"}
    stats = cache.stats()
    assert stats["l1"].pop("bytes") > 0
    assert stats["l1"] == {"hits": 1, "misses": 2, "errors": 0, "size": 2}
    assert stats["l3"]["hits"] == 1 and stats["l3"]["misses"] == 1 and stats["l3"]["size"] == 2
    assert stats["l3"]["bytes"] > 0
    assert stats["total"] == {"lookups": 3, "hits": 2, "misses": 1, "hit_rate": pytest.approx(2 / 3)}


def test_delete_and_clear_reach_every_layer(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    l1, l3 = layers
    cache = TieredCache(layers)
    cache.put_many({"a": OUT, "b": OUT})
    cache.delete("a")
    assert l1.get_many(["a"]) == {} and l3.get_many(["a"]) == {}
    cache.clear()
    assert cache.get_many(["a", "b"]) == {}
    assert cache.stats()["l3"]["size"] == 0


def test_non_json_values_are_refused_before_any_layer(layers: tuple[MemoryLayer, DiskLayer]) -> None:
    cache = TieredCache(layers)
    with pytest.raises(TypeError):
        cache.put_many({"good": OUT, "bad": {"when": object()}})
    assert cache.get("good") is None


class Broken(Layer):
    """A layer whose every call fails."""

    name = "l2"
    ttl = 60.0
    calls = 0

    def _fail(self) -> Any:
        self.calls += 1
        raise OSError("gone")

    def get_many(self, keys: list[str]) -> dict[str, CacheEntry]:
        return self._fail()

    def put_many(self, entries: Mapping[str, CacheEntry]) -> None:
        self._fail()

    def delete_many(self, keys: Iterable[str]) -> None:
        self._fail()

    def clear(self) -> None:
        self._fail()

    def size(self) -> dict[str, Any]:
        return self._fail()


def test_failing_layer_is_a_counted_miss_and_is_skipped_for_a_while(
    layers: tuple[MemoryLayer, DiskLayer], caplog: pytest.LogCaptureFixture
) -> None:
    l1, l3 = layers
    broken = Broken()
    cache = TieredCache([l1, broken, l3], retry_after=0.5)
    with caplog.at_level(logging.WARNING, logger="videoai.cache"):
        cache.put("k", OUT)
    assert broken.calls == 1
    assert caplog.records[0].exc_info is not None and "l2" in caplog.records[0].getMessage()
    l1.clear()
    assert cache.get("k") == CacheHit(OUT, "l3")  # skipped while backing off
    assert broken.calls == 1
    time.sleep(0.55)
    l1.clear()
    assert cache.get("k") == CacheHit(OUT, "l3")  # tried again, failed again, still a miss
    assert broken.calls == 2
    stats = cache.stats()
    assert stats["l2"]["errors"] == 2 and stats["l2"]["misses"] == 2 and stats["l2"]["size"] is None


def test_from_settings_builds_the_configured_layers(settings: Settings) -> None:
    cache = TieredCache.from_settings(settings)
    assert [layer.name for layer in cache.layers] == ["l1", "l3"]  # no redis_url: no L2
    assert not (settings.home / "cache").exists()  # L3 opens its folder at first use
    cache.put("k", OUT)
    assert (settings.home / "cache").is_dir()
    l1 = cache.layers[0]
    assert isinstance(l1, MemoryLayer) and l1.maxsize == settings.cache_l1_size
    assert l1.ttl == settings.cache_l1_ttl and cache.layers[1].ttl == settings.cache_l3_ttl
    cache.close()


def test_disabled_cache_always_misses(settings: Settings) -> None:
    cache = TieredCache.from_settings(settings.model_copy(update={"cache_enabled": False}))
    assert not cache.enabled
    cache.put("k", OUT)
    assert cache.get("k") is None
    assert cache.stats()["total"]["hits"] == 0
    assert not (settings.home / "cache").exists()


def test_pickling_ships_settings_not_contents(settings: Settings) -> None:
    cache = TieredCache.from_settings(settings)
    cache.put("k", OUT)
    clone = pickle.loads(pickle.dumps(cache))
    assert [layer.name for layer in clone.layers] == ["l1", "l3"]
    assert clone.get("k") == CacheHit(OUT, "l3")  # same disk folder, fresh memory
    clone.close()
    cache.close()
    with pytest.raises(TypeError):
        pickle.dumps(TieredCache([MemoryLayer(10, 1.0)]))


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = "import videoai_ray.cache, videoai_bench.cache, os; print(sorted(os.listdir('.')))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
