"""``videoai bench batch`` at a small size: every row is there, the batch completes, and the
per-item slope and the projection are computed from samples."""

from __future__ import annotations

import math

import pytest

from videoai_bench.batch import run_batch_benchmark


@pytest.mark.slow
def test_batch_bench_rows_at_a_small_size(ray_session: None) -> None:
    rate, growth, per_item, projected = run_batch_benchmark(3_000)
    assert rate["unit"] == "tasks/s" and rate["value"] > 0 and rate["baseline"].startswith("completed 3,000")
    assert growth["unit"] == "MB" and growth["value"] >= 0
    assert per_item["unit"] == "bytes/item" and projected["unit"] == "MB"
    assert math.isnan(per_item["value"]) or projected["value"] >= growth["value"]
