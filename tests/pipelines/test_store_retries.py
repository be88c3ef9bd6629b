"""A pipeline whose advance meets an unreachable store is tried again with growing delays, a
bounded number of times (issue 21: not every second forever)."""

from __future__ import annotations

from videoai_ray.pipelines.runner import MAX_RETRIES, store_retry_delay


def test_retries_back_off_and_stop() -> None:
    delays = [store_retry_delay(n) for n in range(1, MAX_RETRIES + 5)]
    given = [d for d in delays if d is not None]
    assert len(given) == MAX_RETRIES and all(d is None for d in delays[MAX_RETRIES:])  # bounded
    assert 1.0 <= given[0] < given[2] < given[4] <= given[-1] * 1.1 and given[-1] >= 30  # growing
