"""The statistics of an A/B report: Wilson score intervals for a success rate, Newcombe's hybrid
score interval for the difference of two rates, and a bootstrap interval for the difference of
two medians (fixed seed, so one report always gives the same numbers).

Pure functions on plain numbers and NumPy arrays; nothing here knows about tasks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

#: the confidence level of every interval in a report
CONFIDENCE = 0.95
#: bootstrap resamples for a latency interval
BOOTSTRAP_RESAMPLES = 2000
#: an arm with more latencies than this is bootstrapped on a random subsample of this size, so a
#: report stays fast at any size (the interval comes out wider than the whole sample's: cautious)
BOOTSTRAP_MAX_SAMPLE = 10_000
BOOTSTRAP_SEED = 0


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile (1.959964 for 95 %)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / n``; ``None`` when ``n`` is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be from 0 to n")
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at p = 0 or 1 one bound is exactly 0 or 1; rounding must not push it past
    return max(0.0, centre - half) if successes else 0.0, min(1.0, centre + half) if successes < n else 1.0


def newcombe_diff(s1: int, n1: int, s2: int, n2: int,
                  confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """``p1 - p2`` and its interval by Newcombe's hybrid score method (method 10 of Newcombe,
    Statistics in Medicine 1998), built from the two Wilson intervals; ``None`` when either
    sample is empty."""
    w1, w2 = wilson(s1, n1, confidence), wilson(s2, n2, confidence)
    if w1 is None or w2 is None:
        return None
    p1, p2 = s1 / n1, s2 / n2
    (l1, u1), (l2, u2) = w1, w2
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation); ``None`` for no values."""
    arr = np.asarray(values, dtype=float)
    return float(np.percentile(arr, q)) if arr.size else None


def bootstrap_median_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                          confidence: float = CONFIDENCE, resamples: int = BOOTSTRAP_RESAMPLES,
                          seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float] | None:
    """``median(a) - median(b)`` and its percentile bootstrap interval (each sample resampled
    with replacement ``resamples`` times; a NumPy generator seeded with ``seed``); ``None`` when
    either sample is empty."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not x.size or not y.size:
        return None
    rng = np.random.default_rng(seed)
    diff = float(np.median(x) - np.median(y))
    x, y = _cap(x, rng), _cap(y, rng)
    diffs = np.empty(resamples)
    step = max(1, 2_000_000 // max(x.size, y.size))  # resamples per round: bounded memory
    for start in range(0, resamples, step):
        k = min(step, resamples - start)
        mx = np.median(x[rng.integers(0, x.size, (k, x.size))], axis=1)
        my = np.median(y[rng.integers(0, y.size, (k, y.size))], axis=1)
        diffs[start:start + k] = mx - my
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(diffs, [tail, 100 - tail])
    return diff, float(lo), float(hi)


def _cap(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x if x.size <= BOOTSTRAP_MAX_SAMPLE else rng.choice(x, BOOTSTRAP_MAX_SAMPLE, replace=False)


__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "CONFIDENCE", "bootstrap_median_diff", "newcombe_diff",
           "percentile", "wilson", "z_value"]
