"""What a provider's account may send: its declared rate limits, and the settings that override them.

A provider declares ``rate_limits = RateLimits(requests=..., per_seconds=...)`` (optionally
``tokens`` or ``media_seconds`` per the same period) and says in ``rate_usage(request)`` how much
of each one attempt uses. The Scheduler's limiter (``scheduler/ratelimit.py``) starts attempts
under those limits for the whole cluster. ``VIDEOAI_PROVIDER_RATE_LIMITS`` overrides a declaration
per provider name (JSON: ``{"runway": {"requests": 10}, "pika": null}``; ``null`` turns it off).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: what an attempt can use, besides one request
UNITS = ("requests", "tokens", "media_seconds")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Limits per ``per_seconds`` (60: per minute). ``None`` means not limited."""

    #: requests (by default one per attempt; ``rate_usage`` may say more)
    requests: float | None = None
    #: tokens (prompt + completion), as ``rate_usage`` estimates them
    tokens: float | None = None
    #: seconds of media made or read
    media_seconds: float | None = None
    per_seconds: float = 60.0
    #: requests that may start at once after a quiet time (default: one second's worth, at least 1)
    burst: float | None = None
    #: providers naming the same group share one limiter (one account, one gateway key)
    group: str | None = None
    #: where the numbers come from (shown in listings)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.per_seconds > 0:
            raise ValueError("per_seconds must be positive")
        for unit in UNITS:
            value = getattr(self, unit)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{unit} must be a positive number or None")
        if self.burst is not None and not self.burst >= 1:
            raise ValueError("burst must be at least 1")

    @property
    def limited(self) -> bool:
        return any(getattr(self, unit) is not None for unit in UNITS)

    def per_minute(self, unit: str = "requests") -> float | None:
        value = getattr(self, unit)
        return None if value is None else value * 60.0 / self.per_seconds

    def burst_of(self, unit: str) -> float:
        """The bucket size of ``unit``: the declared burst for requests, else one second's worth
        (at least 1, at most the limit itself)."""
        limit = float(getattr(self, unit))
        if unit == "requests" and self.burst is not None:
            return min(self.burst, limit)
        return min(limit, max(1.0, math.floor(limit / self.per_seconds)))


def effective_limits(declared: RateLimits | None, name: str,
                     overrides: Mapping[str, Mapping[str, Any] | None]) -> RateLimits | None:
    """The provider's limits after the settings: an override replaces the fields it names (a
    provider that declares none gets the override alone); ``null`` removes every limit."""
    if name not in overrides:
        return declared if declared is not None and declared.limited else None
    override = overrides[name]
    if override is None:
        return None
    unknown = set(override) - {f.name for f in dataclasses.fields(RateLimits)}
    if unknown:
        raise ValueError(f"VIDEOAI_PROVIDER_RATE_LIMITS[{name!r}]: unknown field(s) {sorted(unknown)}")
    base = declared or RateLimits()
    merged = dataclasses.replace(base, **dict(override), source=str(override.get("source") or "settings"))
    return merged if merged.limited else None


__all__ = ["UNITS", "RateLimits", "effective_limits"]
