"""Retry policy for deliveries, as pure functions: what an answer means, when to try again, and
the row changes an attempt leads to.

Retried: timeouts, connection errors, 408, 429 and 5xx (``Retry-After`` honoured). Not retried:
other 4xx, unsafe redirects, too many redirects. Delays follow the VideoAI API contract's retry schedule
(``settings.retry_schedule``: 30 s → 5 min → 30 min → 2 h → 24 h, the last entry repeating) with
±25 % jitter, so receivers coming back from an outage are not hit by every sender at once.
A delivery fails for good after ``settings.webhook_max_attempts`` attempts, or when the next try
would fall after ``settings.webhook_max_age`` seconds from the start of its delivery cycle.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..backoff import parse_retry_after, schedule_delay
from .schema import DELIVERED, FAILED, PENDING

#: attempts kept in a delivery's log (redeliveries append; the oldest entries are dropped)
MAX_LOG_ENTRIES = 50


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt (with its redirect hops) came to."""

    ok: bool
    retryable: bool
    status_code: int | None
    error: str | None
    latency_ms: float
    #: the URL of the last hop
    url: str
    #: seconds the receiver asked us to wait (``Retry-After``)
    retry_after: float | None = None


def retryable_status(code: int) -> bool:
    """Whether an HTTP status is worth another try."""
    return code in (408, 429) or code >= 500


def backoff_delay(retry_number: int, schedule: Sequence[float], rng: random.Random | None = None) -> float:
    """Delay before retry ``retry_number`` (1-based): the schedule's entry with ±25 % jitter."""
    return schedule_delay(schedule, retry_number, spread=(-0.25, 0.25), rng=rng)


def next_state(
    *,
    attempts: int,
    cycle_started_at: datetime,
    log: list[dict[str, Any]],
    result: DeliveryResult,
    now: datetime,
    schedule: Sequence[float],
    max_attempts: int,
    max_age: float,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """Column changes for a delivery after ``result`` (``attempts`` counts earlier attempts)."""
    number = attempts + 1
    entry = {
        "attempt": number,
        "at": now.isoformat(),
        "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 2),
        "error": result.error,
        "url": result.url,
    }
    changes: dict[str, Any] = {
        "attempts": number,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "last_latency_ms": round(result.latency_ms, 2),
        "log": [*log, entry][-MAX_LOG_ENTRIES:],
    }
    if result.ok:
        return {**changes, "status": DELIVERED, "delivered_at": now, "next_attempt_at": None}
    if not result.retryable:
        return {**changes, "status": FAILED, "next_attempt_at": None}
    if number >= max_attempts:
        return {**changes, "status": FAILED, "next_attempt_at": None,
                "last_error": f"{result.error} (gave up after {number} attempts)"}
    delay = result.retry_after if result.retry_after is not None else backoff_delay(number, schedule, rng)
    when = now + timedelta(seconds=delay)
    if when > cycle_started_at + timedelta(seconds=max_age):
        return {**changes, "status": FAILED, "next_attempt_at": None,
                "last_error": f"{result.error} (gave up: next try would pass the {max_age:g} s age limit)"}
    return {**changes, "status": PENDING, "next_attempt_at": when}


__all__ = [
    "MAX_LOG_ENTRIES",
    "DeliveryResult",
    "backoff_delay",
    "next_state",
    "parse_retry_after",
    "retryable_status",
]
