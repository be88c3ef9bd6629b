"""The interval math against published values (Newcombe, Statistics in Medicine 1998: Wilson
intervals of single proportions, and the hybrid score interval of a difference, method 10)."""

from __future__ import annotations

import numpy as np
import pytest

from videoai_ray.experiments.stats import bootstrap_median_diff, newcombe_diff, percentile, wilson, z_value


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


@pytest.mark.parametrize(("s", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (29, 29, 0.8830, 1.0),
])
def test_wilson_matches_published_values(s: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(s, n)  # type: ignore[misc]
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_edges() -> None:
    assert wilson(0, 0) is None
    assert wilson(0, 5)[0] == 0.0  # type: ignore[index]
    assert wilson(5, 5)[1] == 1.0  # type: ignore[index]
    with pytest.raises(ValueError):
        wilson(6, 5)


@pytest.mark.parametrize(("s1", "n1", "s2", "n2", "low", "high"), [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_newcombe_matches_published_values(s1: int, n1: int, s2: int, n2: int, low: float, high: float) -> None:
    d, lo, hi = newcombe_diff(s1, n1, s2, n2)  # type: ignore[misc]
    assert d == pytest.approx(s1 / n1 - s2 / n2)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_newcombe_is_antisymmetric_and_empty_is_none() -> None:
    d, lo, hi = newcombe_diff(56, 70, 48, 80)  # type: ignore[misc]
    d2, lo2, hi2 = newcombe_diff(48, 80, 56, 70)  # type: ignore[misc]
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo))
    assert newcombe_diff(1, 2, 0, 0) is None


def test_bootstrap_median_difference() -> None:
    rng = np.random.default_rng(42)
    a, b = rng.normal(1.3, 0.1, 400), rng.normal(1.0, 0.1, 300)
    d, lo, hi = bootstrap_median_diff(a, b)  # type: ignore[misc]
    assert d == pytest.approx(float(np.median(a) - np.median(b)))
    assert lo < d < hi
    assert 0.25 < lo < 0.3 < hi < 0.35  # the true shift is 0.3; the interval is narrow at these sizes
    assert bootstrap_median_diff(a, b) == (d, lo, hi)  # fixed seed: the same report twice
    assert bootstrap_median_diff(a, b, seed=1) != (d, lo, hi)
    same = bootstrap_median_diff([2.0] * 10, [1.5] * 7)
    assert same == (0.5, 0.5, 0.5)
    assert bootstrap_median_diff([], [1.0]) is None


def test_bootstrap_on_large_samples_stays_bounded() -> None:
    rng = np.random.default_rng(0)
    _d, lo, hi = bootstrap_median_diff(rng.exponential(1.0, 60_000), rng.exponential(1.0, 50_000))  # type: ignore[misc]
    assert lo < 0 < hi and hi - lo < 0.1


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95.0
