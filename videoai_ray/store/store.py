"""TaskStore: tasks in SQL (a SQLite file by default, PostgreSQL via ``DATABASE_URL``).

The Scheduler actor is the only writer of task rows, so writes need no cross-process locking;
every other process (SDK, HTTP replicas, CLI) reads. Writes come in batches: one transaction per
submitted chunk and per flush of state changes.

A store serves one instance (``Settings.instance``): the rows it inserts carry it, and every read
(recovery's ``unfinished``, gets, lists, counts, idempotency keys) sees only that instance's tasks,
so deployments sharing one database never claim, recover or show each other's work.
"""

from __future__ import annotations

import builtins
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, and_, bindparam, case, create_engine, event, func, select, update
from sqlalchemy.engine import Row, make_url

from ..clock import utcnow
from ..models import ACTIVE_STATUSES, TERMINAL_STATUSES, Task
from ..models.record import task_from_row
from .owners import owned
from .schema import DEFAULT_INSTANCE, tasks

_TERMINAL = [s.value for s in TERMINAL_STATUSES]
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


@dataclass(frozen=True, slots=True)
class StoreTimeouts:
    """The store's bounded waits, in seconds (``Settings.store_*_timeout``): opening a connection,
    one statement (server side; SQLite's busy timeout), a free pooled connection."""

    connect: float = 10.0
    statement: float = 30.0
    pool: float = 10.0

    @classmethod
    def of(cls, settings: Any) -> StoreTimeouts:
        return cls(settings.store_connect_timeout, settings.store_statement_timeout, settings.store_pool_timeout)


def make_engine(url: str, timeouts: StoreTimeouts | None = None) -> Engine:
    """An engine tuned for the back end, with every wait bounded: WAL and a busy timeout for SQLite
    files; connect, statement and pool timeouts (and TCP keepalives) for PostgreSQL."""
    t = timeouts or StoreTimeouts()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": t.statement, "check_same_thread": False})
        busy_ms = int(t.statement * 1000)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    ms = int(t.statement * 1000)
    # libpq takes whole seconds (2 at least); the statement timeout joins any ``options`` of the URL
    given = make_url(url).query.get("options")
    given = " ".join(given) if isinstance(given, tuple) else given
    options = " ".join(filter(None, [given, f"-c statement_timeout={ms}"]))
    args = {"connect_timeout": max(2, math.ceil(t.connect)), "options": options, "keepalives": 1,
            "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3, "tcp_user_timeout": ms}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=t.pool,
                         connect_args=args)


def row_to_task(row: Row[Any] | Any) -> Task:
    return task_from_row(row._mapping)


class TaskStore:
    """Reads and batched writes of the task rows of one instance."""

    def __init__(self, url: str, *, migrate: bool = True, instance: str = DEFAULT_INSTANCE,
                 timeouts: StoreTimeouts | None = None) -> None:
        self.url = url
        self.instance = instance
        #: the condition that keeps every read to this instance's tasks
        self.mine = tasks.c.instance == instance
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, timeouts)
        if migrate:
            from .migrate import upgrade

            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writes (the Scheduler's) --------------------------------------------------------------

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new task rows in one transaction."""
        self.update_many([], [(tasks, list(rows))])

    def update_many(
        self, changes: Iterable[dict[str, Any]], inserts: Sequence[tuple[Table, list[dict[str, Any]]]] = ()
    ) -> None:
        """Apply ``{"id": ..., column: value, ...}`` changes, and insert ``inserts`` rows (e.g. the
        webhook outbox), in one transaction. Inserted rows of a table with an ``instance`` column
        belong to this store's instance.

        Changes with the same set of columns go out as one executemany statement. Inserted rows
        leave out their ``None`` values (a new task has many): the column is NULL all the same,
        and binding fewer parameters makes the insert about a third cheaper.
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for ch in changes:
            cols = tuple(sorted(k for k in ch if k != "id"))
            groups.setdefault(cols, []).append({("_id" if k == "id" else k): v for k, v in ch.items()})
        if not groups and not any(rows for _, rows in inserts):
            return
        with self.engine.begin() as conn:
            for table, rows in inserts:
                if "instance" in table.c:
                    rows = [{**row, "instance": self.instance} for row in rows]
                for group in _by_columns(rows):
                    conn.execute(table.insert(), group)
            for cols, params in groups.items():
                stmt = (
                    update(tasks)
                    .where(tasks.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in cols})
                )
                conn.execute(stmt.execution_options(synchronize_session=False), params)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, task_id: str, user_id: str | None = None) -> Task | None:
        q = select(tasks).where(tasks.c.id == task_id, self.mine)
        if user_id is not None:
            q = q.where(tasks.c.user_id == user_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return row_to_task(row) if row else None

    def get_many(self, task_ids: Sequence[str]) -> list[Task]:
        """Tasks for ``task_ids``, in the order given (missing ids are skipped)."""
        found: dict[str, Task] = {}
        with self.engine.connect() as conn:
            for chunk in chunked(task_ids, 900):
                for row in conn.execute(select(tasks).where(tasks.c.id.in_(chunk), self.mine)):
                    found[row.id] = row_to_task(row)
        return [found[i] for i in task_ids if i in found]

    def find_idempotent(self, user_id: str, keys: Sequence[str]) -> dict[str, str]:
        """Existing task ids for a user's idempotency keys."""
        return {k: tid for k, (tid, _) in self.find_idempotent_requests(user_id, keys).items()}

    def find_idempotent_requests(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """``(task id, request fingerprint)`` for a user's idempotency keys already used."""
        if not keys:
            return {}
        q = select(tasks.c.idempotency_key, tasks.c.id, tasks.c.request_hash).where(
            and_(self.mine, tasks.c.user_id == user_id, tasks.c.idempotency_key.in_(list(keys)))
        )
        with self.engine.connect() as conn:
            return {r.idempotency_key: (r.id, r.request_hash) for r in conn.execute(q)}

    def list(
        self,
        *,
        user_id: str | None = None,
        task_type: str | None = None,
        status: str | None = None,
        batch_id: str | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
        user_prefix: str | None = None,
    ) -> builtins.list[Task]:
        """Newest first; ``before=(created_at, id)`` continues a page (cursor pagination);
        ``user_prefix``: only users whose id starts with it (``%`` and ``_`` in it are literal)."""
        q = select(tasks).where(self.mine, *owned(tasks.c.user_id, user_id, user_prefix))
        if task_type:
            q = q.where(tasks.c.type == task_type)
        if status:
            q = q.where(tasks.c.status == status)
        if batch_id:
            q = q.where(tasks.c.batch_id == batch_id)
        if before:
            ts, tid = before
            q = q.where(
                (tasks.c.created_at < ts) | and_(tasks.c.created_at == ts, tasks.c.id < tid)
            )
        q = q.order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [row_to_task(r) for r in conn.execute(q)]

    def unfinished(self) -> builtins.list[Task]:
        """Every accepted task of this instance that has not reached a terminal state, oldest first."""
        q = select(tasks).where(self.mine, tasks.c.status.in_(_ACTIVE)).order_by(tasks.c.created_at, tasks.c.id)
        with self.engine.connect() as conn:
            return [row_to_task(r) for r in conn.execute(q)]

    def in_flight_fields(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What a loaded task's in-flight state needs beyond the public ``Task``: its ``options``,
        ``webhook_events`` filter and recorded ``remote_job`` (keyword arguments of
        ``models.record.active_from_task``)."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in chunked(task_ids, 900):
                q = select(tasks.c.id, tasks.c.options, tasks.c.webhook_events, tasks.c.remote_job).where(
                    tasks.c.id.in_(chunk))
                out.update({r.id: {"options": dict(r.options or {}), "webhook_events": r.webhook_events,
                                   "remote_job": r.remote_job or None} for r in conn.execute(q)})
        return out

    def max_finish_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(tasks.c.finish_seq))).scalar() or 0)

    def finished_since(self, batch_id: str, after_seq: int, limit: int = 10_000) -> builtins.list[tuple[str, str, int]]:
        """``(id, status, finish_seq)`` of a batch's tasks that ended after ``after_seq``."""
        q = (
            select(tasks.c.id, tasks.c.status, tasks.c.finish_seq)
            .where(and_(self.mine, tasks.c.batch_id == batch_id, tasks.c.finish_seq > after_seq))
            .order_by(tasks.c.finish_seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r.id, r.status, int(r.finish_seq)) for r in conn.execute(q)]

    def batch_states(self, batch_id: str, statuses: Sequence[str]) -> builtins.list[tuple[str, str, str | None]]:
        """``(id, status, provider)`` of a batch's tasks in ``statuses``."""
        q = select(tasks.c.id, tasks.c.status, tasks.c.provider).where(
            and_(self.mine, tasks.c.batch_id == batch_id, tasks.c.status.in_(list(statuses))))
        with self.engine.connect() as conn:
            return [(r.id, r.status, r.provider) for r in conn.execute(q)]

    def status_counts(self, *, user_id: str | None = None, batch_id: str | None = None) -> dict[str, int]:
        q = select(tasks.c.status, func.count()).where(self.mine).group_by(tasks.c.status)
        if user_id is not None:
            q = q.where(tasks.c.user_id == user_id)
        if batch_id is not None:
            q = q.where(tasks.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(q)}

    def aggregate(self, *, user_id: str | None = None, since: datetime | None = None,
                  user_prefix: str | None = None) -> builtins.list[dict[str, Any]]:
        """Counts, cost and mean duration grouped by type, status, provider and the ``model``
        the request named (done in SQL); of one user, or of every owner under ``user_prefix``."""
        if self.engine.dialect.name == "sqlite":
            secs = (func.julianday(tasks.c.finished_at) - func.julianday(tasks.c.started_at)) * 86400.0
        else:
            secs = func.extract("epoch", tasks.c.finished_at - tasks.c.started_at)
        model = tasks.c.input["model"].as_string()
        q = select(
            tasks.c.type, tasks.c.status, tasks.c.provider, model.label("model"), func.count().label("count"),
            func.sum(tasks.c.cost).label("cost"), func.avg(secs).label("mean_duration_s"),
            func.sum(case((tasks.c.cache_hit, 1), else_=0)).label("cache_hits"),
            func.sum(tasks.c.attempts).label("attempts"),
        ).where(self.mine, *owned(tasks.c.user_id, user_id, user_prefix)).group_by(
            tasks.c.type, tasks.c.status, tasks.c.provider, model)
        if since is not None:
            q = q.where(tasks.c.created_at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def chunked(seq: Sequence[str], n: int) -> Iterable[list[str]]:
    it = iter(seq)
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def _by_columns(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``rows`` without their ``None`` values, grouped by the columns left (one statement each)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        lean = {k: v for k, v in row.items() if v is not None}
        groups.setdefault(tuple(lean), []).append(lean)
    return list(groups.values())


__all__ = ["StoreTimeouts", "TaskStore", "make_engine", "row_to_task", "utcnow"]

