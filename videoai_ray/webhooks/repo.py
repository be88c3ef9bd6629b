"""The dispatcher's SQL: find the deliveries that are due, look up signing secrets, save results.

"Due" means pending, its ``next_attempt_at`` has come, and no earlier event of the same task is
still pending: that last condition is what sends a task's events strictly in ``seq`` order.
A dispatcher sends only its own instance's deliveries (``instance``): deployments sharing one
database each have a dispatcher, and none sends (or blocks on) another's rows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select, update

from ..clock import aware
from ..store.schema import pipelines, tasks
from .schema import PENDING, webhook_deliveries
from .user_secrets import load_user_secret

_d = webhook_deliveries
_earlier = _d.alias("earlier")


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to attempt now."""

    id: str
    task_id: str
    user_id: str
    event_type: str
    url: str
    body: str
    attempts: int
    cycle_started_at: datetime
    log: list[dict[str, Any]]


def _heads(exclude_tasks: Collection[str], instance: str) -> Select[Any]:
    blocked = (
        select(_earlier.c.id)
        .where(_earlier.c.task_id == _d.c.task_id, _earlier.c.status == PENDING, _earlier.c.seq < _d.c.seq)
        .exists()
    )
    q = select(_d).where(_d.c.instance == instance, _d.c.status == PENDING, ~blocked)
    if exclude_tasks:
        q = q.where(_d.c.task_id.not_in(list(exclude_tasks)))
    return q


def claim_due(engine: Engine, now: datetime, exclude_tasks: Collection[str], limit: int, *,
              instance: str) -> list[Due]:
    """Up to ``limit`` due deliveries, oldest due first, at most one per task, none of
    ``exclude_tasks`` (tasks with a delivery in flight)."""
    if limit <= 0:
        return []
    q = _heads(exclude_tasks, instance).where(_d.c.next_attempt_at <= now).order_by(_d.c.next_attempt_at, _d.c.seq)
    with engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).all()
    out: dict[str, Due] = {}
    for r in rows:
        out.setdefault(r.task_id, Due(
            id=r.id, task_id=r.task_id, user_id=r.user_id, event_type=r.event_type, url=r.url,
            body=r.body, attempts=r.attempts, cycle_started_at=aware(r.cycle_started_at) or now,
            log=list(r.log or []),
        ))
    return list(out.values())


def next_due_at(engine: Engine, exclude_tasks: Collection[str], *, instance: str) -> datetime | None:
    """When the next delivery that is not blocked behind another one comes due."""
    heads = _heads(exclude_tasks, instance).subquery()
    with engine.connect() as conn:
        return aware(conn.execute(select(func.min(heads.c.next_attempt_at))).scalar())


def save_attempt(engine: Engine, webhook_id: str, changes: dict[str, Any]) -> bool:
    """Write an attempt's outcome; ``False`` when the row was no longer pending."""
    stmt = update(_d).where(_d.c.id == webhook_id, _d.c.status == PENDING).values(**changes)
    with engine.begin() as conn:
        return bool(conn.execute(stmt).rowcount)


def signing_secrets(engine: Engine, task_id: str, user_id: str, now: datetime) -> tuple[str, tuple[str, ...]]:
    """The secret that signs a task's (or a pipeline's) deliveries (its own, else the user's), and any
    secret still in its rotation grace that signs alongside it."""
    with engine.connect() as conn:
        task_secret = conn.execute(select(tasks.c.webhook_secret).where(tasks.c.id == task_id)).scalar()
        if task_secret is None and task_id.startswith("pipe_"):  # a pipeline's event
            task_secret = conn.execute(select(pipelines.c.webhook_secret).where(pipelines.c.id == task_id)).scalar()
    if task_secret:
        return task_secret, ()
    record = load_user_secret(engine, user_id)
    return record.secret, record.grace_secrets(now)


__all__ = ["Due", "claim_due", "next_due_at", "save_attempt", "signing_secrets"]
