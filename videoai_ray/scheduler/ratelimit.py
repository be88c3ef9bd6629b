"""The cluster-wide rate limiter: the Scheduler starts every attempt, so one token bucket per
provider (or per group of providers sharing an account) here limits the whole cluster exactly.

A bucket of size ``B`` refilled at ``r`` per second never lets more than ``B - 1 + ceil(r * T)``
attempts start in any window of ``T`` seconds. The refill rate is chosen so that this is at most
the declared limit ``N`` per period ``P``: ``r = (N - B + 1) * (1 - margin) / P``. The margin (5 %
by default) absorbs the jitter between our start and the request's arrival at the provider: with
it, the provider sees at most ``N`` in any window of ``P`` as long as that jitter stays under
``margin * P`` (3 s for a per-minute limit).

A 429 (``RateLimited``) halves the group's rate (down to 1/16 of the declared one), empties its
buckets and starts nothing there before its ``Retry-After`` has passed; every
``recovery_seconds`` without another 429 the rate grows by half again, up to the declared one.
A provider without declared limits still gets the pause.

The buckets pace what is dispatched; an attempt handed to a worker that was still starting, or
busy, may reach its provider later than dispatched, and several late ones together. So a worker
also asks ``gate`` right before the provider runs: a log of the requests that really started
holds any start that would make more than ``N`` in a window of ``P * (1 + margin)``. With the
buckets' pace that log never binds in steady state; it only absorbs delivery hiccups.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..providers.base import Provider
from ..providers.limits import UNITS, RateLimits, effective_limits

#: the lowest fraction of the declared rate a run of 429s can bring a group down to
MIN_FACTOR = 1 / 16
_DECREASE = 0.5
_INCREASE = 1.5


@dataclass(slots=True)
class Bucket:
    """Tokens of one unit: ``capacity`` at most, refilled at ``rate`` per second (times the
    group's adaptive factor). A request larger than the bucket waits for a full one and leaves
    a debt, so the long-run rate holds for it too."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def refill(self, now: float, factor: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate * factor)
            self.stamp = now

    def wait(self, amount: float, now: float, factor: float) -> float:
        """Seconds until ``amount`` (at most a full bucket) is there."""
        self.refill(now, factor)
        missing = min(amount, self.capacity) - self.tokens
        if missing <= 1e-9:
            return 0.0
        rate = self.rate * factor
        return math.inf if rate <= 0 else missing / rate

    def take(self, amount: float) -> None:
        self.tokens -= amount


@dataclass(slots=True)
class GroupLimiter:
    """The limits, buckets and adaptive state of one group of providers."""

    limits: RateLimits | None
    buckets: dict[str, Bucket]
    recovery_seconds: float
    factor: float = 1.0
    paused_until: float = 0.0
    last_change: float = 0.0
    #: 429 answers seen, attempts that waited for this limiter, and the seconds they waited
    rate_limited: int = 0
    throttled: int = 0
    throttled_seconds: float = 0.0
    #: task ids waiting for this limiter now, since when
    waiting: dict[str, float] = field(default_factory=dict)
    #: requests that really started (at the gate), oldest first: (time, requests)
    started: deque[tuple[float, float]] = field(default_factory=deque)
    margin: float = 0.0

    @classmethod
    def build(cls, limits: RateLimits | None, margin: float, recovery_seconds: float, now: float) -> GroupLimiter:
        buckets = {}
        if limits is not None:
            for unit in UNITS:
                limit = getattr(limits, unit)
                if limit is None:
                    continue
                burst = limits.burst_of(unit)
                rate = max(limit - burst + 1, 1.0) * (1.0 - margin) / limits.per_seconds
                buckets[unit] = Bucket(burst, rate, burst, now)
        return cls(limits, buckets, recovery_seconds, last_change=now, margin=margin)

    def gate(self, requests: float, now: float) -> float:
        """Seconds this start must still wait so that no window of ``per_seconds * (1 + margin)``
        holds more than the declared requests; 0: it starts now (and is logged)."""
        limits = self.limits
        if limits is None or limits.requests is None:
            return max(0.0, self.paused_until - now)
        limit = limits.requests
        window = limits.per_seconds * (1.0 + self.margin)
        while self.started and self.started[0][0] <= now - window:
            self.started.popleft()
        used = sum(n for _, n in self.started)
        if self.paused_until > now:
            return self.paused_until - now
        if self.started and used + min(requests, limit) > limit:
            # wait until enough of the oldest starts leave the window
            left = used + min(requests, limit) - limit
            for t, n in self.started:
                left -= n
                if left <= 0:
                    return max(t + window - now, 1e-3)
        self.started.append((now, requests))
        return 0.0

    def _recover(self, now: float) -> None:
        while self.factor < 1.0 and now - self.last_change >= self.recovery_seconds:
            for b in self.buckets.values():
                b.refill(self.last_change + self.recovery_seconds, self.factor)
            self.last_change += self.recovery_seconds
            self.factor = min(1.0, self.factor * _INCREASE)

    def wait(self, usage: Mapping[str, float], now: float) -> float:
        """Seconds until an attempt using ``usage`` may start (0: now)."""
        self._recover(now)
        start = max(now, self.paused_until)
        need = max((b.wait(_amount(usage, unit), start, self.factor) for unit, b in self.buckets.items()),
                   default=0.0)
        return start - now + need

    def take(self, usage: Mapping[str, float], now: float) -> None:
        for unit, b in self.buckets.items():
            b.refill(now, self.factor)
            b.take(_amount(usage, unit))

    def on_rate_limited(self, retry_after: float | None, now: float) -> None:
        self.rate_limited += 1
        self.paused_until = max(self.paused_until, now + (retry_after or 0.0))
        if self.buckets:
            self.factor = max(MIN_FACTOR, self.factor * _DECREASE)
        self.last_change = now
        for b in self.buckets.values():
            b.tokens = min(b.tokens, 0.0)
            b.stamp = max(b.stamp, self.paused_until)

    def describe(self, now: float) -> dict[str, Any]:
        self._recover(now)
        declared = self.limits.per_minute() if self.limits is not None else None
        return {
            "rate_limit_rpm": declared,
            "rate_limit_tokens_pm": self.limits.per_minute("tokens") if self.limits is not None else None,
            "rate_limit_media_seconds_pm": self.limits.per_minute("media_seconds") if self.limits is not None else None,
            "rate_allowed_rpm": None if declared is None else round(declared * self.factor, 3),
            "rate_limit_source": self.limits.source if self.limits is not None else None,
            "rate_paused_s": round(max(0.0, self.paused_until - now), 3),
            "rate_limited": self.rate_limited,
            "throttled_now": len(self.waiting),
            "throttled": self.throttled,
            "throttled_seconds": round(self.throttled_seconds, 3),
        }


def _amount(usage: Mapping[str, float], unit: str) -> float:
    """What one attempt uses of ``unit``: one request unless ``rate_usage`` says otherwise."""
    return float(usage.get(unit, 1.0 if unit == "requests" else 0.0))


class ProviderRateLimiter:
    """Every provider's group limiter, made on first use from the provider's declaration and
    the ``provider_rate_limits`` setting."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any] | None], *, margin: float = 0.05,
                 recovery_seconds: float = 60.0) -> None:
        self.overrides = overrides
        self.margin = margin
        self.recovery_seconds = recovery_seconds
        self._group_of: dict[str, str] = {}
        self._groups: dict[str, GroupLimiter] = {}

    def group(self, provider: Provider, now: float) -> GroupLimiter:
        key = self._group_of.get(provider.name)
        if key is None:
            limits = effective_limits(provider.rate_limits, provider.name, self.overrides)
            key = self._group_of[provider.name] = (limits.group if limits and limits.group else provider.name)
            if key not in self._groups:
                self._groups[key] = GroupLimiter.build(limits, self.margin, self.recovery_seconds, now)
        return self._groups[key]

    def group_name(self, name: str) -> str:
        return self._group_of.get(name, name)

    def forget(self, name: str) -> None:
        """A provider was registered again or removed: read its limits anew (its group's state
        stays while another member uses it)."""
        key = self._group_of.pop(name, None)
        if key is not None and key not in self._group_of.values():
            self._groups.pop(key, None)

    def wait(self, provider: Provider, usage: Mapping[str, float], now: float) -> float:
        return self.group(provider, now).wait(usage, now)

    def admit(self, get: Callable[[str], Provider], usage_of: Callable[[Provider], Mapping[str, float]],
              now: float) -> Callable[[str], bool]:
        """A predicate for the registry's ``pick``: may this provider start an attempt now."""
        return lambda name: self.wait(get(name), usage_of(get(name)), now) <= 0.0

    def take(self, provider: Provider, usage: Mapping[str, float], task_id: str,
             now: float) -> list[tuple[str, float]]:
        """``task_id`` starts on ``provider``: take its usage from the provider's buckets. Returns
        ``(group, seconds)`` for each limiter it had been waiting for (counted as throttled)."""
        self.group(provider, now).take(usage, now)
        waited = []
        for key, g in self._groups.items():
            since = g.waiting.pop(task_id, None)
            if since is not None:
                g.throttled += 1
                g.throttled_seconds += now - since
                waited.append((key, now - since))
        return waited

    def held(self, provider: Provider, task_id: str, now: float) -> None:
        """``task_id`` could start but for this provider's limiter (counted once it starts)."""
        self.group(provider, now).waiting.setdefault(task_id, now)

    def release(self, task_id: str) -> None:
        """``task_id`` no longer waits (it started elsewhere, or it was cancelled)."""
        for g in self._groups.values():
            g.waiting.pop(task_id, None)

    def gated(self, provider: Provider, now: float) -> bool:
        """Whether attempts of ``provider`` pass ``gate`` before they send (a request limit)."""
        limits = self.group(provider, now).limits
        return limits is not None and limits.requests is not None

    def gate(self, provider: Provider, usage: Mapping[str, float], now: float) -> float:
        """``GroupLimiter.gate`` for an attempt of ``provider`` about to send its requests."""
        return self.group(provider, now).gate(_amount(usage, "requests"), now)

    def rate_limited(self, provider: Provider, retry_after: float | None, now: float) -> None:
        self.group(provider, now).on_rate_limited(retry_after, now)

    def describe(self, provider: Provider, now: float) -> dict[str, Any]:
        g = self.group(provider, now)
        key = self._group_of[provider.name]
        return {**g.describe(now), "rate_group": key}


__all__ = ["MIN_FACTOR", "Bucket", "GroupLimiter", "ProviderRateLimiter"]
