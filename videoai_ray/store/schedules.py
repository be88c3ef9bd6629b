"""Schedules in the store. The Scheduler's tick loop is their only writer (creation, pause,
resume and delete go through it too, so a change never races a tick); everyone else reads. A
schedule belongs to the instance whose Scheduler created it: only that instance fires, reads,
lists, counts or changes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from ..clock import aware, utcnow
from .owners import owned
from .schema import schedules, tasks
from .store import chunked

_TIMES = ("at", "next_run_at", "last_tick_at", "created_at", "updated_at")


def _row(m: Any) -> dict[str, Any]:
    out = dict(m._mapping)
    for k in _TIMES:
        out[k] = aware(out[k])
    return out


def insert_schedule(engine: Engine, row: dict[str, Any]) -> bool:
    """Store a new schedule; ``False`` when its id is stored already (a re-sent create)."""
    with engine.begin() as conn:
        if conn.execute(select(schedules.c.id).where(schedules.c.id == row["id"])).first():
            return False
        conn.execute(insert(schedules).values(**row))
    return True


def get_schedule(engine: Engine, schedule_id: str, user_id: str | None = None, *,
                 instance: str) -> dict[str, Any] | None:
    q = select(schedules).where(schedules.c.id == schedule_id, schedules.c.instance == instance)
    if user_id is not None:
        q = q.where(schedules.c.user_id == user_id)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    return _row(row) if row else None


def list_schedules(engine: Engine, user_id: str | None, limit: int = 100, *, instance: str,
                   user_prefix: str | None = None) -> list[dict[str, Any]]:
    """A user's schedules (or, ``None``, every owner's under ``user_prefix``), newest first."""
    q = (select(schedules).where(schedules.c.instance == instance, *owned(schedules.c.user_id, user_id, user_prefix))
         .order_by(schedules.c.created_at.desc(), schedules.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def change_schedule(engine: Engine, schedule_id: str, user_id: str | None, *, instance: str,
                    expect: dict[str, Any] | None = None, **values: Any) -> bool:
    """Set ``values`` on one schedule (of ``user_id``) whose columns still equal ``expect``."""
    where = [schedules.c.id == schedule_id, schedules.c.instance == instance]
    if user_id is not None:
        where.append(schedules.c.user_id == user_id)
    for col, value in (expect or {}).items():
        where.append(schedules.c[col].is_(None) if value is None else schedules.c[col] == value)
    with engine.begin() as conn:
        done = conn.execute(update(schedules).where(and_(*where)).values(updated_at=utcnow(), **values))
    return bool(done.rowcount)


def delete_schedule(engine: Engine, schedule_id: str, user_id: str, *, instance: str) -> bool:
    with engine.begin() as conn:
        done = conn.execute(delete(schedules).where(
            and_(schedules.c.id == schedule_id, schedules.c.user_id == user_id, schedules.c.instance == instance)))
    return bool(done.rowcount)


def live_schedules(engine: Engine, user_id: str | None, *, instance: str, owner_prefix: str | None = None) -> int:
    """How many of a user's schedules in ``instance`` can still fire (active or paused; not done);
    with ``owner_prefix`` instead of a user, those of every owner id starting with it (a tenant's)."""
    owner = owned(schedules.c.user_id, user_id if owner_prefix is None else None, owner_prefix)
    q = select(func.count()).select_from(schedules).where(
        and_(*owner, schedules.c.instance == instance, schedules.c.state.in_(("active", "paused"))))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def due_schedules(engine: Engine, instance: str, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Active schedules of ``instance`` with a tick at or before ``now``, most overdue first."""
    q = (select(schedules)
         .where(and_(schedules.c.instance == instance, schedules.c.state == "active",
                     schedules.c.next_run_at <= now))
         .order_by(schedules.c.next_run_at).limit(limit))
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def earliest_due(engine: Engine, instance: str) -> datetime | None:
    q = select(func.min(schedules.c.next_run_at)).where(
        and_(schedules.c.instance == instance, schedules.c.state == "active"))
    with engine.connect() as conn:
        return aware(conn.execute(q).scalar())


def stored_task_ids(engine: Engine, ids: Sequence[str], column: Any = tasks.c.id) -> set[str]:
    """Which of ``ids`` are stored tasks (or rows of another table: ``column`` is its id, e.g.
    ``pipelines.c.id`` for a schedule's pipeline ticks)."""
    found: set[str] = set()
    with engine.connect() as conn:
        for chunk in chunked(ids, 900):
            found.update(r[0] for r in conn.execute(select(column).where(column.in_(chunk))))
    return found


def schedule_counts(engine: Engine, user_id: str | None = None, *, instance: str,
                    user_prefix: str | None = None) -> dict[str, Any]:
    """An instance's schedules per state, and the ticks they fired and missed (for the statistics);
    of one user, or of every owner under ``user_prefix``."""
    q = select(schedules.c.state, func.count(), func.sum(schedules.c.ticks_fired),
               func.sum(schedules.c.ticks_missed)).where(
        schedules.c.instance == instance, *owned(schedules.c.user_id, user_id, user_prefix)).group_by(schedules.c.state)
    by_state: dict[str, int] = {}
    fired = missed = 0
    with engine.connect() as conn:
        for state, n, f, m in conn.execute(q):
            by_state[state] = int(n)
            fired += int(f or 0)
            missed += int(m or 0)
    return {"total": sum(by_state.values()), "by_state": by_state, "ticks_fired": fired, "ticks_missed": missed}


__all__ = ["change_schedule", "delete_schedule", "due_schedules", "earliest_due", "get_schedule",
           "insert_schedule", "list_schedules", "live_schedules", "schedule_counts", "stored_task_ids"]
