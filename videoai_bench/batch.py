"""``videoai bench batch``: a large batch streamed from one driver (a generator: the driver never
holds the batch), watching the driver's memory while it sends and while it waits.

Besides the growth itself, the driver's RSS is sampled against the number of items the batch has
taken from the generator, and a straight line fitted through the sending phase gives the growth
per item: what a batch larger than the one measured would add (the issue's million items)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from videoai_ray.providers.testing import NoopProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings

#: the size the per-item growth is extrapolated to
TARGET_ITEMS = 1_000_000
TARGET_MB = 1024.0


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def run_batch_benchmark(n: int = 100_000) -> list[dict[str, Any]]:
    from videoai_ray.client import connect

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="videoai-bench-batch-")), instance="bench-batch",
                        cache_enabled=False)
    kill_scheduler(settings)
    client = connect(settings=settings, providers=[NoopProvider()])
    taken = 0

    def items() -> Iterator[dict[str, Any]]:
        nonlocal taken
        for i in range(n):
            taken = i + 1
            yield {"task_type": "subtitle_generation", "priority": ("low", "medium", "high", "urgent")[i % 4],
                   "input_data": {"text": f"line {i}", "provider": "noop", "use_cache": False}}

    base = _rss_mb()
    samples: list[tuple[int, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            samples.append((taken, _rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t = time.perf_counter()
        batch = client.batch(items())
        sent_at = time.perf_counter()
        counts = batch.wait(timeout=3600)
        elapsed = time.perf_counter() - t
    finally:
        stop.set()
        sampler.join()
        kill_scheduler(settings)
    peak = max([base, *(rss for _, rss in samples)])
    growth = peak - base
    # the sending phase past its first tenth (imports and the first chunks' buffers are done)
    sending = [(k, rss) for k, rss in samples if n // 10 <= k < n]
    per_item = float(np.polyfit([k for k, _ in sending], [rss for _, rss in sending], 1)[0]) * 2**20 \
        if len({k for k, _ in sending}) >= 3 else float("nan")
    projected = growth + max(0.0, per_item) * (TARGET_ITEMS - n) / 2**20
    return [
        {"benchmark": f"batch of {n:,} tasks streamed from one driver (generator)", "value": round(n / elapsed, 1),
         "unit": "tasks/s", "baseline": f"completed {counts.get('completed', 0):,}; sent in "
         f"{sent_at - t:.1f} s", "ratio": None, "target": "all complete"},
        {"benchmark": "driver memory growth during that batch (peak RSS - RSS before)", "value": round(growth, 1),
         "unit": "MB", "baseline": f"driver RSS before: {base:.0f} MB", "ratio": round(growth / 500, 2),
         "target": "<= 500 MB"},
        {"benchmark": "driver memory per item while sending (slope of RSS over items taken)",
         "value": round(per_item, 1), "unit": "bytes/item", "baseline": f"{len(sending)} samples", "ratio": None,
         "target": "-"},
        {"benchmark": f"projected growth at {TARGET_ITEMS:,} items (growth + slope x the items not measured)",
         "value": round(projected, 1), "unit": "MB",
         "baseline": "measured at this size" if n >= TARGET_ITEMS else "extrapolated, not measured",
         "ratio": round(projected / TARGET_MB, 2), "target": "< 1024 MB"},
    ]
