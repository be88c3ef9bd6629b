"""Cache benchmarks: what a lookup costs per layer, alone and in the Scheduler's batches.

Every figure goes through the full :class:`~videoai_ray.cache.TieredCache` stack built like the
Scheduler's (L1, L2 when ``redis_url`` is set, L3), so a lower-layer hit includes the lookups
that missed above it and the fill-up it triggers. To make a lookup land in a given layer, the
layers above it are emptied for that key outside the timed region. Single lookups report the
median in microseconds; batches (the Scheduler's path) the median per batch in milliseconds.

The benchmark never touches the user's cache: L3 lives in a temporary folder and L2 under a
one-off Redis namespace that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videoai_ray.cache import DiskLayer, Layer, MemoryLayer, RedisLayer, TieredCache, cache_key
from videoai_ray.models import TaskType

if TYPE_CHECKING:
    from videoai_ray.settings import Settings

log = logging.getLogger("videoai.bench")

#: a realistic output: artifact URLs and a little metadata, no bytes
SAMPLE_OUTPUT: dict[str, Any] = {
    "artifacts": [
        {
            "url": "file:///data/videoai/artifacts/2f/2f9c0d6e/image-0.png",
            "mime_type": "image/png",
            "width": 1024,
            "height": 1024,
            "bytes": 1_482_113,
        }
    ],
    "provider": "local-pillow",
    "model": "procedural-v1",
    "revised_prompt": "a red fox in the snow, watercolour",
    "cost": 0.0,
}


def _row(name: str, value: float, unit: str) -> dict[str, Any]:
    return {"benchmark": name, "value": round(value, 3), "unit": unit}


def _median_us(keys: list[str], prepare: Callable[[str], None], lookup: Callable[[str], object]) -> float:
    samples: list[int] = []
    for key in keys:
        prepare(key)
        t0 = time.perf_counter_ns()
        lookup(key)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000.0


def _expect_layer(cache: TieredCache, key: str, layer: str) -> None:
    hit = cache.get(key)
    got = hit.layer if hit else "miss"
    if got != layer:
        raise RuntimeError(f"cache benchmark set up a {layer} hit but got {got}")


def _build(settings: Settings, folder: Path, entries: int) -> TieredCache:
    """The Scheduler's stack, but with L3 in ``folder``, L2 under a one-off namespace and L1
    large enough for the ``entries`` the benchmark stores (it measures latency, not capacity)."""
    layers: list[Layer] = [MemoryLayer(max(settings.cache_l1_size, entries), settings.cache_l1_ttl)]
    if settings.redis_url:
        l2 = RedisLayer(
            settings.redis_url,
            settings.cache_l2_ttl,
            int(getattr(settings, "cache_l2_size", 100_000)),
            namespace=f"videoai:bench:{uuid.uuid4().hex}:",
        )
        try:
            l2.ping()
            layers.append(l2)
        except Exception:
            log.warning("Redis at redis_url does not answer; cache benchmark skips L2", exc_info=True)
            l2.close()
    layers.append(DiskLayer(folder, max(settings.cache_l3_size_mb, 1) * 1024 * 1024, settings.cache_l3_ttl))
    return TieredCache(layers)


def _dropper(cache: TieredCache, layer: Layer) -> Callable[[list[str]], None]:
    """A function emptying the layers above ``layer`` for some keys, so lookups land in it."""
    upper = cache.layers[: cache.layers.index(layer)]

    def drop(keys: list[str]) -> None:
        for above in upper:
            above.delete_many(keys)

    return drop


def _drop_one(drop: Callable[[list[str]], None], key: str) -> None:
    drop([key])


def _drop_none(key: str) -> None:
    """Nothing to empty before a miss."""


def _nothing() -> None:
    """Nothing to prepare before a batch of misses."""


def _median_batch_ms(repeats: int, prepare: Callable[[], None], lookup: Callable[[], object]) -> float:
    samples: list[float] = []
    for _ in range(repeats):
        prepare()
        t0 = time.perf_counter()
        lookup()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000.0


def _add_baselines(rows: list[dict[str, Any]], settings: Settings, folder: Path, keys: list[str]) -> None:
    """Next to each layer's hit latency, the bare store under it measured now: a Redis GET, a
    diskcache get, a dict lookup (so a row says what the layer adds)."""
    import diskcache

    raw = diskcache.Cache(str(folder / "raw"))
    value = json.dumps(SAMPLE_OUTPUT)
    for k in keys:
        raw.set(k, value)
    plain = dict.fromkeys(keys, value)
    bases: dict[str, tuple[str, float]] = {
        "l1": ("dict lookup", _median_us(keys, _drop_none, plain.get)),
        "l3": ("bare diskcache get", _median_us(keys, _drop_none, raw.get)),
    }
    raw.close()
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        try:
            client.set("videoai:bench:raw", value, ex=60)
            bases["l2"] = ("bare Redis GET", _median_us(keys, _drop_none, lambda _k: client.get("videoai:bench:raw")))
        except redis.RedisError:
            log.warning("Redis baseline not measured", exc_info=True)
        finally:
            with contextlib.suppress(redis.RedisError):
                client.delete("videoai:bench:raw")
            client.close()
    for row in rows:
        layer = row["benchmark"].split(".")[1] if row["benchmark"].endswith(".hit") else None
        if layer in bases:
            name, us = bases[layer]
            row.update(baseline=f"{name}: {us:.1f} us", ratio=round(row["value"] / us, 1) if us else None)


def run_cache_benchmarks(
    settings: Settings, *, lookups: int = 1000, batch: int = 1000, repeats: int = 5
) -> list[dict[str, Any]]:
    """Measure hit latency per layer, miss latency and batch lookups; return benchmark rows.

    Single-lookup figures are the median of ``lookups`` lookups; batch figures the median of
    ``repeats`` ``get_many`` calls of ``batch`` keys. L2 is measured only when ``redis_url`` is
    set and Redis answers.
    """
    rows: list[dict[str, Any]] = []
    n = max(lookups, batch)
    with tempfile.TemporaryDirectory(prefix="videoai-bench-cache-") as tmp:
        cache = _build(settings, Path(tmp) / "l3", n)
        try:
            keys = [cache_key(TaskType.IMAGE_GENERATION, {"prompt": f"bench {i}"}) for i in range(n)]
            absent = [cache_key(TaskType.IMAGE_GENERATION, {"prompt": f"absent {i}"}) for i in range(n)]
            t0 = time.perf_counter()
            cache.put_many(dict.fromkeys(keys[:batch], SAMPLE_OUTPUT))
            rows.append(_row(f"cache.put_many_{batch}", (time.perf_counter() - t0) * 1000.0, "ms"))
            cache.put_many(dict.fromkeys(keys[batch:], SAMPLE_OUTPUT))

            for layer in cache.layers:
                drop = _dropper(cache, layer)
                drop([keys[0]])
                _expect_layer(cache, keys[0], layer.name)  # also warms connections
                us = _median_us(keys[:lookups], partial(_drop_one, drop), cache.get)
                rows.append(_row(f"cache.{layer.name}.hit", us, "us"))
            rows.append(_row("cache.miss", _median_us(absent[:lookups], _drop_none, cache.get), "us"))
            _add_baselines(rows, settings, Path(tmp), keys[:lookups])

            chunk, missing = keys[:batch], absent[:batch]
            for layer in cache.layers:
                ms = _median_batch_ms(
                    repeats, partial(_dropper(cache, layer), chunk), partial(cache.get_many, chunk)
                )
                rows.append(_row(f"cache.{layer.name}.hit_batch_{batch}", ms, "ms"))
            ms = _median_batch_ms(repeats, _nothing, partial(cache.get_many, missing))
            rows.append(_row(f"cache.miss_batch_{batch}", ms, "ms"))
        finally:
            cache.clear()
            cache.close()
    return rows
