"""The retry policy as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from videoai_ray.webhooks.policy import DeliveryResult, backoff_delay, next_state, parse_retry_after

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _result(ok: bool = False, retryable: bool = True, code: int | None = 500,
            retry_after: float | None = None) -> DeliveryResult:
    error = None if ok else f"HTTP {code}"
    return DeliveryResult(ok, retryable, code, error, 12.5, "https://x/h", retry_after)


def _next(result: DeliveryResult, attempts: int = 0, started: datetime = NOW, **kw: float) -> dict:
    args = {"schedule": (30.0, 300.0), "max_attempts": 5, "max_age": 86400.0, **kw}
    return next_state(attempts=attempts, cycle_started_at=started, log=[], result=result, now=NOW,
                      rng=random.Random(1), **args)  # type: ignore[arg-type]


def test_retry_after_parsing() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) == 0.0


def test_backoff_follows_schedule_with_jitter() -> None:
    rng = random.Random(7)
    for n, base in [(1, 30.0), (2, 300.0), (3, 300.0), (9, 300.0)]:
        d = backoff_delay(n, (30.0, 300.0), rng)
        assert 0.75 * base <= d <= 1.25 * base


def test_outcomes() -> None:
    ok = _next(_result(ok=True, code=204))
    assert ok["status"] == "delivered" and ok["attempts"] == 1 and ok["delivered_at"] == NOW
    assert ok["log"][0]["status_code"] == 204 and ok["log"][0]["latency_ms"] == 12.5

    gone = _next(_result(retryable=False, code=404))
    assert gone["status"] == "failed" and gone["next_attempt_at"] is None

    retry = _next(_result(code=503))
    assert retry["status"] == "pending"
    assert timedelta(seconds=22.5) <= retry["next_attempt_at"] - NOW <= timedelta(seconds=37.5)

    honoured = _next(_result(code=429, retry_after=90.0))
    assert honoured["next_attempt_at"] == NOW + timedelta(seconds=90)

    spent = _next(_result(code=500), attempts=4)
    assert spent["status"] == "failed" and "after 5 attempts" in spent["last_error"]

    old = _next(_result(code=500), started=NOW - timedelta(seconds=86_390))
    assert old["status"] == "failed" and "age limit" in old["last_error"]
