"""``videoai bench batch``: a 100,000-task batch from one driver, watching the driver's memory."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..providers.testing import NoopProvider
from ..scheduler import kill_scheduler
from ..settings import Settings


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def run_batch_benchmark(n: int = 100_000) -> list[dict[str, Any]]:
    from ..client import connect

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="videoai-bench-batch-")), instance="bench-batch",
                        cache_enabled=False)
    kill_scheduler(settings)
    client = connect(settings=settings, providers=[NoopProvider()])
    peak = base = _rss_mb()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t = time.perf_counter()
        items = ({"task_type": "subtitle_generation", "priority": ("low", "medium", "high", "urgent")[i % 4],
                  "input_data": {"text": f"line {i}", "provider": "noop", "use_cache": False}} for i in range(n))
        batch = client.batch(items)
        counts = batch.wait(timeout=3600)
        elapsed = time.perf_counter() - t
    finally:
        stop.set()
        sampler.join()
        kill_scheduler(settings)
    growth = peak - base
    return [
        {"benchmark": f"batch of {n:,} tasks from one driver", "value": round(n / elapsed, 1), "unit": "tasks/s",
         "baseline": f"completed {counts.get('completed', 0):,}", "ratio": None, "target": "all complete"},
        {"benchmark": "driver memory growth during that batch", "value": round(growth, 1), "unit": "MB",
         "baseline": f"driver RSS before: {base:.0f} MB", "ratio": round(growth / 500, 2), "target": "<= 500 MB"},
    ]
