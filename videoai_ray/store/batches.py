"""SDK batches: how many items the driver meant to send, and whether it sent them all.

A driver killed mid-submission leaves a batch with fewer stored tasks than ``expected`` and no
``sealed_at``; ``Batch.counts()`` and ``Client.batches()`` show it, and ``Client.resume_batch``
sends the rest (a batch's task ids follow from its id and each item's index)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from .schema import batches, tasks
from .store import _aware, utcnow

_ID_NAMESPACE = uuid.UUID("5d0c8c57-6b1c-4f53-9a51-3f1d7c2b8e10")


def batch_task_id(batch_id: str, index: int) -> str:
    """The task id of a batch's ``index``-th item: the same every time the batch is sent."""
    return "task_" + uuid.uuid5(_ID_NAMESPACE, f"{batch_id}:{index}").hex


def open_batch(engine: Engine, batch_id: str, user_id: str, expected: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(batches).values(id=batch_id, user_id=user_id, expected=expected, created_at=utcnow()))


def seal_batch(engine: Engine, batch_id: str) -> None:
    """Every item was sent."""
    with engine.begin() as conn:
        conn.execute(update(batches).where(batches.c.id == batch_id).values(sealed_at=utcnow()))


def stored_ids(engine: Engine, batch_id: str) -> list[str]:
    """The ids of the batch's tasks in the store, in the order they were created."""
    q = select(tasks.c.id).where(tasks.c.batch_id == batch_id).order_by(tasks.c.created_at, tasks.c.id)
    with engine.connect() as conn:
        return [r.id for r in conn.execute(q)]


def batch_rows(engine: Engine, user_id: str | None, batch_id: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """Newest first: ``id, created_at, expected, sealed_at, submitted, missing`` and the count
    of the batch's tasks per status."""
    q = select(batches).order_by(batches.c.created_at.desc(), batches.c.id.desc()).limit(limit)
    if user_id is not None:
        q = q.where(batches.c.user_id == user_id)
    if batch_id is not None:
        q = q.where(batches.c.id == batch_id)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if not rows:
            return []
        counts = select(tasks.c.batch_id, tasks.c.status, func.count()).where(
            and_(tasks.c.batch_id.in_([r["id"] for r in rows]))).group_by(tasks.c.batch_id, tasks.c.status)
        per: dict[str, dict[str, int]] = {}
        for bid, status, n in conn.execute(counts):
            per.setdefault(bid, {})[status] = int(n)
    out = []
    for r in rows:
        by_status = per.get(r["id"], {})
        submitted = sum(by_status.values())
        out.append({"id": r["id"], "created_at": _aware(r["created_at"]), "expected": r["expected"],
                    "submitted": submitted, "missing": max(0, r["expected"] - submitted),
                    "sealed_at": _aware(r["sealed_at"]), "counts": by_status})
    return out


__all__ = ["batch_rows", "batch_task_id", "open_batch", "seal_batch", "stored_ids"]
