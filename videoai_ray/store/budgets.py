"""Budgets and spend in the store: a batch's budget (on its ``batches`` row), each user's own daily
budget, and what was spent (the ``cost`` of finished tasks), per batch, per user and day, per
provider. The Scheduler reads these once per batch or user and day, then keeps count in memory."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Engine, and_, cast, delete, func, insert, select, update

from .owners import owned
from .schema import batches, tasks, user_budgets
from .store import utcnow


def day_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of ``now``'s day: where a user's daily budget starts counting."""
    now = now or utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of the first day of ``now``'s month: where a tenant's monthly budget starts."""
    return day_start(now).replace(day=1)


def batch_budget(engine: Engine, batch_id: str) -> float | None:
    with engine.connect() as conn:
        return conn.execute(select(batches.c.budget_usd).where(batches.c.id == batch_id)).scalar()


def get_user_budget(engine: Engine, user_id: str) -> float | None:
    with engine.connect() as conn:
        return conn.execute(select(user_budgets.c.budget_usd).where(user_budgets.c.user_id == user_id)).scalar()


def set_user_budget(engine: Engine, user_id: str, budget_usd: float | None) -> None:
    """Set (or, with ``None``, remove) a user's own daily budget."""
    with engine.begin() as conn:
        if budget_usd is None:
            conn.execute(delete(user_budgets).where(user_budgets.c.user_id == user_id))
            return
        done = conn.execute(update(user_budgets).where(user_budgets.c.user_id == user_id)
                            .values(budget_usd=budget_usd, updated_at=utcnow()))
        if not done.rowcount:
            conn.execute(insert(user_budgets).values(user_id=user_id, budget_usd=budget_usd, updated_at=utcnow()))


def spent(engine: Engine, *, batch_id: str | None = None, user_id: str | None = None,
          since: datetime | None = None, owner_prefix: str | None = None) -> float:
    """The cost of the finished tasks of a batch, or of a user (or of every owner id starting
    with ``owner_prefix``: a tenant's users) since a time, in USD."""
    q = select(func.coalesce(func.sum(tasks.c.cost), 0.0))
    if batch_id is not None:
        q = q.where(tasks.c.batch_id == batch_id)
    q = q.where(*owned(tasks.c.user_id, user_id, owner_prefix))
    if since is not None:
        q = q.where(tasks.c.finished_at >= since)
    with engine.connect() as conn:
        return float(conn.execute(q).scalar() or 0.0)


def spend_rows(engine: Engine, user_id: str | None, days: int, user_prefix: str | None = None) -> list[dict[str, Any]]:
    """A user's (or every owner's under ``user_prefix``) spend per UTC day and provider over the
    last ``days`` days (today included), newest day first: ``{day, provider, tasks, cost_usd}``
    (tasks that cost something)."""
    since = day_start() - timedelta(days=days - 1)
    if engine.dialect.name == "sqlite":
        day: Any = func.date(tasks.c.finished_at)  # stored in UTC
    else:
        day = cast(func.timezone("UTC", tasks.c.finished_at), Date)
    q = (select(day.label("day"), tasks.c.provider, func.count().label("tasks"),
                func.sum(tasks.c.cost).label("cost"))
         .where(and_(*owned(tasks.c.user_id, user_id, user_prefix), tasks.c.finished_at >= since, tasks.c.cost > 0))
         .group_by(day, tasks.c.provider).order_by(day.desc(), tasks.c.provider))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [{"day": r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)),
             "provider": r.provider, "tasks": int(r.tasks), "cost_usd": round(float(r.cost), 6)} for r in rows]


__all__ = ["batch_budget", "day_start", "get_user_budget", "month_start", "set_user_budget", "spend_rows", "spent"]
