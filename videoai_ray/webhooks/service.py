"""Read and manage deliveries: what the HTTP API (``/webhooks/...``) and the SDK call.

Every function takes an engine on the task database, the instance whose deliveries it reads (another
instance's are never shown or redelivered) and, where a user is involved, the caller's user id:
another user's webhook id behaves exactly like an unknown one (``None``).
Timestamps come back as timezone-aware UTC datetimes; log entries as stored (ISO strings).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, case, delete, func, select, update
from sqlalchemy.engine import Row

from ..clock import aware
from .delivery import redact
from .policy import MAX_LOG_ENTRIES
from .schema import DELIVERED, DELIVERY_STATUSES, FAILED, PENDING, webhook_deliveries
from .user_secrets import get_user_secret, rotate_user_secret

_d = webhook_deliveries


def _view(row: Row[Any], *, full: bool) -> dict[str, Any]:
    m = row._mapping
    out: dict[str, Any] = {
        "webhook_id": m["id"],
        "task_id": m["task_id"],
        "event_type": m["event_type"],
        "seq": m["seq"],
        "url": redact(m["url"]),
        "status": m["status"],
        "attempts": m["attempts"],
        "last_status_code": m["last_status_code"],
        "last_error": m["last_error"],
        "last_latency_ms": m["last_latency_ms"],
        "next_attempt_at": aware(m["next_attempt_at"]) if m["status"] == PENDING else None,
        "created_at": aware(m["created_at"]),
        "delivered_at": aware(m["delivered_at"]),
    }
    if full:
        out["log"] = list(m["log"] or [])
        out["payload"] = json.loads(m["body"])
    return out


def _owned(engine: Engine, webhook_id: str, user_id: str, instance: str) -> Row[Any] | None:
    q = select(_d).where(_d.c.id == webhook_id, _d.c.user_id == user_id, _d.c.instance == instance)
    with engine.connect() as conn:
        return conn.execute(q).first()


def delivery_status(engine: Engine, webhook_id: str, user_id: str, *, instance: str) -> dict[str, Any] | None:
    """One delivery with its attempt log, payload and next attempt; ``None`` if not the user's."""
    row = _owned(engine, webhook_id, user_id, instance)
    return _view(row, full=True) if row is not None else None


def list_deliveries(
    engine: Engine,
    user_id: str,
    task_id: str | None = None,
    *,
    status: str | None = None,
    limit: int = 100,
    instance: str,
) -> list[dict[str, Any]]:
    """The user's deliveries: a task's in event order, or all of them newest first."""
    q = select(_d).where(_d.c.instance == instance, _d.c.user_id == user_id)
    if task_id is not None:
        q = q.where(_d.c.task_id == task_id).order_by(_d.c.seq)
    else:
        q = q.order_by(_d.c.created_at.desc(), _d.c.seq.desc())
    if status is not None:
        if status not in DELIVERY_STATUSES:
            raise ValueError(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        q = q.where(_d.c.status == status)
    with engine.connect() as conn:
        return [_view(r, full=False) for r in conn.execute(q.limit(limit))]


def statistics(engine: Engine, user_id: str | None = None, *, instance: str) -> dict[str, Any]:
    """Counts by status, success rate (delivered / finished), mean latency of successful
    deliveries, pending and retrying counts, total attempts; for one user or for everyone."""
    q = select(
        _d.c.status,
        func.count(),
        func.coalesce(func.sum(_d.c.attempts), 0),
        func.avg(_d.c.last_latency_ms),
        func.sum(case((_d.c.attempts > 0, 1), else_=0)),
    ).where(_d.c.instance == instance).group_by(_d.c.status)
    if user_id is not None:
        q = q.where(_d.c.user_id == user_id)
    by_status = dict.fromkeys(DELIVERY_STATUSES, 0)
    attempts = retrying = 0
    mean_latency: float | None = None
    with engine.connect() as conn:
        for status, count, tries, latency, tried in conn.execute(q):
            by_status[status] = int(count)
            attempts += int(tries)
            if status == DELIVERED and latency is not None:
                mean_latency = round(float(latency), 2)
            if status == PENDING:
                retrying = int(tried or 0)
    finished = by_status[DELIVERED] + by_status[FAILED]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "delivered": by_status[DELIVERED],
        "failed": by_status[FAILED],
        "pending": by_status[PENDING],
        "retrying": retrying,
        "success_rate": round(by_status[DELIVERED] / finished, 4) if finished else None,
        "mean_latency_ms": mean_latency,
        "attempts": attempts,
    }


def redeliver(engine: Engine, webhook_id: str, user_id: str, *, instance: str) -> dict[str, Any] | None:
    """Send a finished (failed, or delivered) event again: back to pending with a fresh attempt
    budget and age limit, same ``webhook-id`` and body. A pending event is returned unchanged.
    ``None`` if the id is not the user's. Wake the dispatcher afterwards to send it at once."""
    row = _owned(engine, webhook_id, user_id, instance)
    if row is None:
        return None
    if row.status != PENDING:
        now = datetime.now(UTC)
        marker = {"attempt": None, "at": now.isoformat(), "status_code": None, "latency_ms": None,
                  "error": None, "url": redact(row.url), "event": "redelivery requested"}
        with engine.begin() as conn:
            conn.execute(
                update(_d)
                .where(_d.c.id == webhook_id, _d.c.user_id == user_id, _d.c.status == row.status)
                .values(status=PENDING, attempts=0, next_attempt_at=now, cycle_started_at=now,
                        delivered_at=None, log=[*(row.log or []), marker][-MAX_LOG_ENTRIES:])
            )
        row = _owned(engine, webhook_id, user_id, instance)
        assert row is not None
    return _view(row, full=True)


def purge_deliveries(engine: Engine, finished_before: datetime) -> int:
    """Delete delivered and failed rows created before ``finished_before`` (retention); pending
    rows are never touched. Returns how many were deleted."""
    stmt = delete(_d).where(_d.c.status.in_([DELIVERED, FAILED]), _d.c.created_at < finished_before)
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount or 0)


__all__ = [
    "delivery_status",
    "get_user_secret",
    "list_deliveries",
    "purge_deliveries",
    "redeliver",
    "rotate_user_secret",
    "statistics",
]
