"""Experiments in the store: their rows, and the facts of their tasks that a report reads. An
experiment belongs to one instance (``instance``): it splits only that instance's tasks, and only
that instance lists, reports on or stops it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from ..clock import aware, utcnow
from ..experiments.models import ArmSpec, Experiment
from .owners import owned
from .schema import experiments, tasks


@dataclass(frozen=True, slots=True)
class TenantOverCap:
    """``insert_experiment``'s answer when the owner's tenant is at its cap: the number its users run."""

    running: int
    cap: int


def _lock(conn: Any, name: str) -> None:
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    conn.execute(select(func.pg_advisory_xact_lock(key)))


def insert_experiment(engine: Engine, exp: Experiment, max_running: int | None = None, *,
                      instance: str, tenant_max: tuple[str, int] | None = None) -> int | TenantOverCap | None:
    """Store ``exp``; unless its owner then runs more than ``max_running`` experiments: then
    nothing is stored and the number they run is returned (``None`` when stored). With
    ``tenant_max`` (an owner prefix and its cap), the same for every owner with that prefix
    together (a ``TenantOverCap``). Concurrent inserts of one owner (one tenant) are serialised
    (PostgreSQL: a transaction lock on the owner, then on the tenant; SQLite: the insert takes the
    database's write lock before the count), so two cannot both pass."""
    with engine.connect() as conn, conn.begin() as tx:
        if conn.dialect.name == "postgresql":
            if max_running is not None:
                _lock(conn, f"experiments:{instance}:{exp.owner_id}")
            if tenant_max is not None:
                _lock(conn, f"experiments-tenant:{instance}:{tenant_max[0]}")
        conn.execute(insert(experiments).values(
            id=exp.id, instance=instance, owner_id=exp.owner_id, name=exp.name, task_type=exp.task_type.value,
            arms=[a.model_dump(exclude_none=True) for a in exp.arms], baseline=exp.baseline,
            user_filter=exp.user_id, metadata_filter=exp.metadata, created_at=exp.created_at))
        def running_of(user_id: str | None, prefix: str | None) -> int:
            return int(conn.execute(select(func.count()).select_from(experiments).where(
                *owned(experiments.c.owner_id, user_id, prefix), experiments.c.instance == instance,
                experiments.c.stopped_at.is_(None))).scalar() or 0)

        if max_running is not None:
            running = running_of(exp.owner_id, None)
            if running > max_running:
                tx.rollback()
                return running - 1
        if tenant_max is not None:
            running = running_of(None, tenant_max[0])
            if running > tenant_max[1]:
                tx.rollback()
                return TenantOverCap(running - 1, tenant_max[1])
    return None


def get_experiment(engine: Engine, experiment_id: str, owner_id: str | None, *, instance: str,
                   owner_prefix: str | None = None) -> Experiment | None:
    """One of ``owner_id``'s experiments, or of an owner under ``owner_prefix`` (``None``:
    unknown, or another user's)."""
    q = select(experiments).where(and_(experiments.c.id == experiment_id, experiments.c.instance == instance,
                                       *owned(experiments.c.owner_id, owner_id, owner_prefix)))
    with engine.connect() as conn:
        row = conn.execute(q).first()
    return _experiment(row._mapping) if row else None


def list_experiments(engine: Engine, owner_id: str | None, limit: int = 100, *, instance: str,
                     owner_prefix: str | None = None) -> list[Experiment]:
    """``owner_id``'s experiments (or, ``None``, every owner's under ``owner_prefix``), newest first."""
    q = (select(experiments).where(experiments.c.instance == instance,
                                   *owned(experiments.c.owner_id, owner_id, owner_prefix))
         .order_by(experiments.c.created_at.desc(), experiments.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        return [_experiment(r._mapping) for r in conn.execute(q)]


def running_experiments(engine: Engine, *, instance: str) -> list[Experiment]:
    """Every running experiment of ``instance``, oldest first (the first that matches a task takes it)."""
    q = (select(experiments).where(experiments.c.instance == instance, experiments.c.stopped_at.is_(None))
         .order_by(experiments.c.created_at, experiments.c.id))
    with engine.connect() as conn:
        return [_experiment(r._mapping) for r in conn.execute(q)]


def stop_experiment(engine: Engine, experiment_id: str, owner_id: str, *, instance: str) -> bool:
    """Stop one of ``owner_id``'s experiments (a stopped one stays stopped); ``False`` if unknown."""
    with engine.begin() as conn:
        found = conn.execute(select(experiments.c.id).where(
            and_(experiments.c.id == experiment_id, experiments.c.owner_id == owner_id,
                 experiments.c.instance == instance))).first()
        if found is None:
            return False
        conn.execute(update(experiments).where(
            and_(experiments.c.id == experiment_id, experiments.c.stopped_at.is_(None))).values(stopped_at=utcnow()))
    return True


def experiment_task_rows(engine: Engine, experiment_id: str) -> list[dict[str, Any]]:
    """What a report needs of each task in the experiment: arm, status, the provider that ran,
    cache hit, cost, and its first start and end."""
    q = select(tasks.c.experiment_arm, tasks.c.status, tasks.c.provider, tasks.c.cache_hit, tasks.c.cost,
               tasks.c.started_at, tasks.c.finished_at).where(tasks.c.experiment_id == experiment_id)
    with engine.connect() as conn:
        return [{"arm": r.experiment_arm, "status": r.status, "provider": r.provider, "cache_hit": bool(r.cache_hit),
                 "cost": r.cost, "started_at": aware(r.started_at), "finished_at": aware(r.finished_at)}
                for r in conn.execute(q)]


def _experiment(m: Any) -> Experiment:
    created: datetime = aware(m["created_at"]) or utcnow()
    return Experiment(id=m["id"], owner_id=m["owner_id"], name=m["name"], task_type=m["task_type"],
                      arms=[ArmSpec.model_validate(a) for a in m["arms"]], baseline=m["baseline"],
                      user_id=m["user_filter"], metadata=m["metadata_filter"], created_at=created,
                      stopped_at=aware(m["stopped_at"]))


__all__ = ["TenantOverCap", "experiment_task_rows", "get_experiment", "insert_experiment", "list_experiments",
           "running_experiments", "stop_experiment"]
