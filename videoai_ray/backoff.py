"""Waiting before another try: the schedule lookup with jitter and ``Retry-After`` parsing, shared
by the task retry policy, the webhook dispatcher and the cloud adapters."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def schedule_delay(schedule: Sequence[float], retry_number: int, *, spread: tuple[float, float] = (0.0, 0.1),
                   rng: random.Random | None = None) -> float:
    """Delay before retry ``retry_number`` (1-based): the schedule's entry (its last one repeats),
    scaled by a random factor in ``1 + spread`` so many retries do not stampede."""
    base = schedule[min(max(retry_number, 1), len(schedule)) - 1]
    low, high = spread
    return base * (1.0 + low + (high - low) * (rng or random).random())


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
