"""The rate limiter on a simulated clock: starts as fast as it allows never exceed the declared
limit in any window (also with jitter up to the margin between our start and the provider), it
does not waste much of the limit, a 429 lowers the rate and pauses for Retry-After, the rate
recovers, shared groups share, and the settings override the declarations."""

from __future__ import annotations

import bisect
import random
from typing import Any, ClassVar

import pytest

from videoai_ray.models import TaskType
from videoai_ray.providers.base import Provider
from videoai_ray.providers.limits import RateLimits, effective_limits
from videoai_ray.scheduler.ratelimit import MIN_FACTOR, ProviderRateLimiter
from videoai_ray.settings import Settings


class Limited(Provider):
    task_types = frozenset({TaskType.IMAGE_GENERATION})

    def __init__(self, name: str, limits: RateLimits | None) -> None:
        self.name = name  # type: ignore[misc]
        self.rate_limits = limits  # type: ignore[misc]

    async def run(self, request: Any, ctx: Any) -> dict[str, Any]:
        return {}


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any half-open window ``(t - window, t]``."""
    times = sorted(times)
    return max((i + 1 - bisect.bisect_right(times, t - window) for i, t in enumerate(times)), default=0)


def saturate(limiter: ProviderRateLimiter, provider: Provider, until: float, usage: dict[str, float] | None = None,
             start: float = 0.0) -> list[float]:
    """Start attempts as soon as the limiter allows, from ``start`` to ``until``."""
    now, starts = start, []
    while now < until:
        wait = limiter.wait(provider, usage or {}, now)
        if wait > 0:
            now += wait
            continue
        limiter.take(provider, usage or {}, f"t{len(starts)}", now)
        starts.append(now)
    return starts


@pytest.mark.parametrize(("requests", "per", "burst"), [(60, 60, None), (500, 60, None), (1, 60, None),
                                                        (150, 10, None), (20, 3, 5), (7, 1, 7)])
def test_never_more_than_the_limit_in_any_window_and_not_much_less(requests: float, per: float,
                                                                   burst: float | None) -> None:
    limits = RateLimits(requests=requests, per_seconds=per, burst=burst)
    provider = Limited("p", limits)
    limiter = ProviderRateLimiter({}, margin=0.05)
    starts = saturate(limiter, provider, until=10 * per)
    assert max_in_window(starts, per) <= requests
    # a quiet start lets the burst out at once, then the refill paces it
    assert starts[: int(limits.burst_of("requests"))] == [0.0] * int(limits.burst_of("requests"))
    assert len(starts) >= 0.9 * 10 * requests * (requests - limits.burst_of("requests") + 1) / requests


def test_jitter_within_the_margin_keeps_the_provider_under_its_limit() -> None:
    # what the provider sees: our start plus a delay that varies by up to margin * period
    limits = RateLimits(requests=20, per_seconds=3)
    limiter = ProviderRateLimiter({}, margin=0.05)
    starts = saturate(limiter, Limited("p", limits), until=60)
    rng = random.Random(7)
    arrivals = [t + rng.uniform(0, 0.05 * 3 * 0.95) for t in starts]
    assert max_in_window(arrivals, 3) <= 20
    # the worst case: the burst arrives late, what follows on time
    burst = int(limits.burst_of("requests"))
    assert max_in_window([t + (0.14 if i < burst else 0.0) for i, t in enumerate(starts)], 3) <= 20
    # without the margin that jitter overruns the limit: the margin is what holds it
    exact = saturate(ProviderRateLimiter({}, margin=0.0), Limited("p", limits), until=60)
    assert max_in_window(exact, 3) == 20
    assert max_in_window([t + (0.14 if i < burst else 0.0) for i, t in enumerate(exact)], 3) > 20


def test_tokens_and_media_seconds_are_limited_with_requests() -> None:
    limits = RateLimits(requests=1000, tokens=10_000, per_seconds=60)
    limiter = ProviderRateLimiter({}, margin=0.0)
    starts = saturate(limiter, Limited("p", limits), until=600, usage={"tokens": 2000})
    # 10,000 tokens a minute at 2,000 each: 5 a minute, whatever the request limit says
    assert max_in_window(starts, 60) * 2000 <= 10_000 + 2000  # the bucket holds one second's worth
    assert 45 <= len(starts) <= 55
    # a request larger than the whole bucket still runs (on a full bucket) and repays its debt
    huge = saturate(ProviderRateLimiter({}, margin=0.0), Limited("q", limits), until=600, usage={"tokens": 50_000})
    assert len(huge) == 2 and huge[1] == pytest.approx(50_000 / (10_000 - 166 + 1) * 60, rel=0.01)


def test_a_429_lowers_the_rate_pauses_for_retry_after_and_the_rate_recovers() -> None:
    limits = RateLimits(requests=60, per_seconds=60)
    provider = Limited("p", limits)
    limiter = ProviderRateLimiter({}, margin=0.0, recovery_seconds=30)
    before = saturate(limiter, provider, until=60)
    limiter.rate_limited(provider, 10.0, now=60.0)
    row = limiter.describe(provider, 60.0)
    assert row["rate_allowed_rpm"] == 30 and row["rate_limited"] == 1 and row["rate_paused_s"] == 10
    after = saturate(limiter, provider, until=90, start=60.0)
    assert after[0] >= 70.0  # nothing before Retry-After has passed
    assert len(after) <= 12  # 20 s at half the rate (30 a minute)
    # 30 s without another 429: the rate grows by half, then again, up to the declared one
    assert limiter.describe(provider, 90.0)["rate_allowed_rpm"] == 45
    assert limiter.describe(provider, 120.0)["rate_allowed_rpm"] == 60
    assert len(before) >= 59
    # a run of 429s cannot stop a provider for good
    for i in range(20):
        limiter.rate_limited(provider, None, now=200.0 + i)
    assert limiter.describe(provider, 220.0)["rate_allowed_rpm"] == pytest.approx(60 * MIN_FACTOR)


def test_a_provider_without_declared_limits_is_only_paused() -> None:
    provider = Limited("free", None)
    limiter = ProviderRateLimiter({})
    assert limiter.wait(provider, {}, 0.0) == 0.0
    limiter.rate_limited(provider, 5.0, now=1.0)
    assert limiter.wait(provider, {}, 1.0) == pytest.approx(5.0)
    assert limiter.wait(provider, {}, 6.0) == 0.0
    row = limiter.describe(provider, 6.0)
    assert row["rate_limit_rpm"] is None and row["rate_allowed_rpm"] is None and row["rate_limited"] == 1


def test_providers_of_one_group_share_its_limit() -> None:
    shared = RateLimits(requests=30, per_seconds=60, group="account")
    a, b = Limited("a", shared), Limited("b", shared)
    limiter = ProviderRateLimiter({}, margin=0.0)
    now, starts = 0.0, []
    while now < 600:  # both as fast as they may, alternating
        waits = [limiter.wait(p, {}, now) for p in (a, b)]
        if min(waits) > 0:
            now += min(waits)
            continue
        p = (a, b)[waits.index(0.0)]
        limiter.take(p, {}, f"t{len(starts)}", now)
        starts.append(now)
    assert max_in_window(starts, 60) <= 30
    assert limiter.describe(a, now)["rate_group"] == limiter.describe(b, now)["rate_group"] == "account"


def test_waiting_attempts_are_counted_as_throttled() -> None:
    provider = Limited("p", RateLimits(requests=1, per_seconds=10))
    limiter = ProviderRateLimiter({}, margin=0.0)
    limiter.take(provider, {}, "first", 0.0)
    limiter.held(provider, "second", 1.0)
    assert limiter.describe(provider, 1.0)["throttled_now"] == 1
    assert limiter.take(provider, {}, "second", 10.0) == [("p", 9.0)]
    row = limiter.describe(provider, 10.0)
    assert (row["throttled"], row["throttled_seconds"], row["throttled_now"]) == (1, 9.0, 0)
    limiter.held(provider, "gone", 11.0)
    limiter.release("gone")  # cancelled while it waited
    assert limiter.describe(provider, 11.0)["throttled_now"] == 0


class Declared(Provider):
    name = "declared"
    task_types = frozenset({TaskType.IMAGE_GENERATION})
    rate_limits: ClassVar[RateLimits | None] = RateLimits(requests=100, source="docs")


def test_settings_override_the_declared_limits() -> None:
    declared = Declared.rate_limits
    assert effective_limits(declared, "declared", {}) == declared
    merged = effective_limits(declared, "declared", {"declared": {"requests": 10, "per_seconds": 1}})
    assert merged is not None and merged.requests == 10 and merged.per_seconds == 1 and merged.source == "settings"
    assert effective_limits(declared, "declared", {"declared": None}) is None
    assert effective_limits(None, "mine", {"mine": {"tokens": 1000}}) == RateLimits(tokens=1000, source="settings")
    limiter = ProviderRateLimiter({"declared": {"requests": 6}})
    assert limiter.describe(Declared(), 0.0)["rate_limit_rpm"] == 6


def test_settings_refuse_unknown_or_bad_limit_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOAI_PROVIDER_RATE_LIMITS", '{"runway": {"requests": 10}, "pika": null}')
    assert Settings().provider_rate_limits == {"runway": {"requests": 10}, "pika": None}
    for bad in ('{"runway": {"rpm": 10}}', '{"runway": {"requests": -1}}', '{"runway": {"per_seconds": 0}}'):
        monkeypatch.setenv("VIDEOAI_PROVIDER_RATE_LIMITS", bad)
        with pytest.raises(ValueError, match="runway"):
            Settings()


def test_the_gate_holds_starts_that_arrive_bunched() -> None:
    # dispatched at the limiter's pace, but delivered together (a worker that was starting): the
    # gate lets no more than the limit start in any window of the period (plus the margin)
    provider = Limited("p", RateLimits(requests=10, per_seconds=6))
    limiter = ProviderRateLimiter({}, margin=0.05)
    now, started = 0.0, []
    pending = 25
    while pending:
        delay = limiter.gate(provider, {}, now)
        if delay > 0:
            now += delay
            continue
        started.append(now)
        pending -= 1
    assert max_in_window(started, 6 * 1.05) <= 10
    assert started[:10] == [0.0] * 10 and started[10] == pytest.approx(6.3)
    assert limiter.gate(Limited("free", None), {}, 0.0) == 0.0  # nothing declared: no gate
