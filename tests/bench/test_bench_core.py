"""``videoai bench core`` at a tiny size: its rows, and a cap the scheduler must not beat."""

from __future__ import annotations

import pytest

from videoai_bench.core import run_core_benchmarks


@pytest.mark.slow
def test_core_bench_rows_at_a_tiny_size(ray_session: None) -> None:
    ratio_row, efficiency = run_core_benchmarks(n=200, latency=0.05, cap=4, capped_tasks=12)
    assert ratio_row["unit"] == "tasks/s" and ratio_row["value"] > 0 and ratio_row["ratio"] > 0
    assert ratio_row["baseline"].startswith("bare @ray.remote no-op")
    # 12 tasks of 50 ms on a provider capped at 4 need three waves: 0.15 s at the very least
    assert len(efficiency["runs_s"]) == 3 and min(efficiency["runs_s"]) >= 0.15
    assert efficiency["baseline"] == "ideal 0.15 s" and 0 < efficiency["ratio"] <= 1.0
