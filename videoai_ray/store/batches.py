"""SDK and HTTP batches: how many items the driver meant to send, whether it sent them all, what
the batch may spend and has spent.

A driver killed mid-submission leaves a batch with fewer stored tasks than ``expected`` and no
``sealed_at``; ``Batch.counts()`` and ``Client.batches()`` show it, and ``Client.resume_batch``
sends the rest (a batch's task ids follow from its id and each item's index). A streamed batch
(a generator: its size is unknown up front) has ``expected`` NULL until it is sealed. A batch
belongs to the instance whose client opened it; lists and lookups see only their instance's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any, overload

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from ..clock import aware, utcnow
from .owners import owned
from .schema import batches, tasks

_ID_NAMESPACE = uuid.UUID("5d0c8c57-6b1c-4f53-9a51-3f1d7c2b8e10")


def batch_task_id(batch_id: str, index: int) -> str:
    """The task id of a batch's ``index``-th item: the same every time the batch is sent."""
    return "task_" + uuid.uuid5(_ID_NAMESPACE, f"{batch_id}:{index}").hex


class DerivedIds(Sequence[str]):
    """The task ids of a batch's first ``n`` items, computed when read rather than held: a batch
    of a million items costs its driver no list of a million ids."""

    def __init__(self, batch_id: str, n: int) -> None:
        self.batch_id = batch_id
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [batch_task_id(self.batch_id, j) for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        return batch_task_id(self.batch_id, i)

    def __iter__(self) -> Iterator[str]:
        return (batch_task_id(self.batch_id, j) for j in range(self.n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DerivedIds):
            return (self.batch_id, self.n) == (other.batch_id, other.n)
        return isinstance(other, Sequence) and len(other) == self.n and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DerivedIds({self.batch_id!r}, {self.n})"


def open_batch(engine: Engine, batch_id: str, user_id: str, expected: int | None,
               budget_usd: float | None = None, *, instance: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(batches).values(id=batch_id, instance=instance, user_id=user_id, expected=expected,
                                            created_at=utcnow(), budget_usd=budget_usd))


def seal_batch(engine: Engine, batch_id: str, sent: int | None = None) -> None:
    """Every item was sent (``sent``: how many, for a streamed batch whose size was unknown)."""
    values: dict[str, Any] = {"sealed_at": utcnow()}
    with engine.begin() as conn:
        if sent is not None:
            conn.execute(update(batches).where(and_(batches.c.id == batch_id, batches.c.expected.is_(None)))
                         .values(expected=sent))
        conn.execute(update(batches).where(batches.c.id == batch_id).values(values))


def discard_batch(engine: Engine, batch_id: str) -> None:
    """Forget a batch row that holds no task (an HTTP batch answered entirely by replays)."""
    with engine.begin() as conn:
        conn.execute(delete(batches).where(batches.c.id == batch_id))


def stored_ids(engine: Engine, batch_id: str) -> list[str]:
    """The ids of the batch's tasks in the store, in the order they were created."""
    q = select(tasks.c.id).where(tasks.c.batch_id == batch_id).order_by(tasks.c.created_at, tasks.c.id)
    with engine.connect() as conn:
        return [r.id for r in conn.execute(q)]


def batch_ids(engine: Engine, row: dict[str, Any]) -> Sequence[str]:
    """The task ids of a stored batch (a ``batch_rows`` row): computed from the batch id when every
    item is stored, else read from the store (a batch cut short, or still being sent)."""
    if row["sealed_at"] is not None and row["expected"] is not None and row["submitted"] == row["expected"]:
        return DerivedIds(row["id"], row["expected"])
    return stored_ids(engine, row["id"])


def batch_rows(engine: Engine, user_id: str | None, batch_id: str | None = None,
               limit: int = 100, *, instance: str, user_prefix: str | None = None) -> list[dict[str, Any]]:
    """Newest first: ``id, created_at, expected, sealed_at, submitted, missing, budget_usd,
    cost_usd`` and the count of the batch's tasks per status (``missing`` is ``None`` while a
    streamed batch of unknown size is being sent), of ``instance``'s batches."""
    q = (select(batches).where(batches.c.instance == instance, *owned(batches.c.user_id, user_id, user_prefix))
         .order_by(batches.c.created_at.desc(), batches.c.id.desc()).limit(limit))
    if batch_id is not None:
        q = q.where(batches.c.id == batch_id)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if not rows:
            return []
        counts = select(tasks.c.batch_id, tasks.c.status, func.count(), func.sum(tasks.c.cost)).where(
            and_(tasks.c.batch_id.in_([r["id"] for r in rows]))).group_by(tasks.c.batch_id, tasks.c.status)
        per: dict[str, dict[str, int]] = {}
        cost: dict[str, float] = {}
        for bid, status, n, spent in conn.execute(counts):
            per.setdefault(bid, {})[status] = int(n)
            cost[bid] = cost.get(bid, 0.0) + float(spent or 0.0)
    out = []
    for r in rows:
        by_status = per.get(r["id"], {})
        submitted = sum(by_status.values())
        expected = r["expected"]
        out.append({"id": r["id"], "user_id": r["user_id"], "created_at": aware(r["created_at"]),
                    "expected": expected, "submitted": submitted,
                    "missing": None if expected is None else max(0, expected - submitted),
                    "sealed_at": aware(r["sealed_at"]), "budget_usd": r["budget_usd"],
                    "cost_usd": round(cost.get(r["id"], 0.0), 6), "counts": by_status})
    return out


__all__ = ["DerivedIds", "batch_ids", "batch_rows", "batch_task_id", "discard_batch", "open_batch", "seal_batch",
           "stored_ids"]
