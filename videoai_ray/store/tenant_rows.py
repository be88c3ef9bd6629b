"""Every row of one tenant, table by table: what ``videoai tenant export`` writes out and
``videoai tenant delete`` removes (``tenants.lifecycle``).

A tenant's rows are found by its id (``tenants``, ``tenant_provider_keys``) or by the owner ids of
its users, which all start with ``<tenant>/`` (``tenants.ids.owner_prefix``). A tenant id holds
only ``a-z``, ``0-9`` and ``-``, so the ``LIKE 'acme/%'`` pattern has no wildcard of the tenant's
own, and ``acme/`` never matches ``acme-2/…``. Tables with an ``instance`` column are read for one
instance; ``user_budgets`` and ``webhook_secrets`` have none (several instances sharing a database
share them), so ``delete_tenant_rows`` leaves those to a tenant of the same id on another instance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, exists, select

from ..tenants.ids import owner_prefix
from ..webhooks.schema import webhook_deliveries, webhook_secrets
from .owners import owned
from .schema import (
    batches,
    experiments,
    pipelines,
    schedules,
    tasks,
    tenant_provider_keys,
    tenants,
    user_budgets,
)

Where = Callable[[str, str], ColumnElement[bool]]


def _owned(table: Table, column: str, per_instance: bool = True) -> Where:
    def where(tenant: str, instance: str) -> ColumnElement[bool]:
        [clause] = owned(table.c[column], None, owner_prefix(tenant))
        return clause & (table.c.instance == instance) if per_instance else clause
    return where


#: ``{table name: (table, the rows of a tenant on an instance)}``, in the order they are deleted
#: (the ``tenants`` row last, so a delete that stops half-way can be run again)
TENANT_TABLES: dict[str, tuple[Table, Where]] = {
    "webhook_deliveries": (webhook_deliveries, _owned(webhook_deliveries, "user_id")),
    "webhook_secrets": (webhook_secrets, _owned(webhook_secrets, "user_id", per_instance=False)),
    "schedules": (schedules, _owned(schedules, "user_id")),
    "pipelines": (pipelines, _owned(pipelines, "user_id")),
    "experiments": (experiments, _owned(experiments, "owner_id")),
    "tasks": (tasks, _owned(tasks, "user_id")),
    "batches": (batches, _owned(batches, "user_id")),
    "user_budgets": (user_budgets, _owned(user_budgets, "user_id", per_instance=False)),
    "tenant_provider_keys": (tenant_provider_keys, lambda t, i: (tenant_provider_keys.c.tenant == t)
                             & (tenant_provider_keys.c.instance == i)),
    "tenants": (tenants, lambda t, i: (tenants.c.id == t) & (tenants.c.instance == i)),
}
#: tables without an ``instance`` column
SHARED_TABLES = frozenset({"webhook_secrets", "user_budgets"})


def tenant_rows(engine: Engine, tenant: str, *, instance: str) -> dict[str, list[dict[str, Any]]]:
    """``{table name: [row as a dict, ...]}`` of every table, ordered by the table's key. On
    PostgreSQL they are read in one repeatable-read transaction (one moment of the store, so an
    export of a tenant still at work is consistent across tables); on SQLite table by table."""
    out: dict[str, list[dict[str, Any]]] = {}
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        for name, (table, where) in TENANT_TABLES.items():
            order = list(table.primary_key.columns)
            rows = conn.execute(select(table).where(where(tenant, instance)).order_by(*order)).mappings().all()
            out[name] = [dict(r) for r in rows]
    return out


def delete_tenant_rows(engine: Engine, tenant: str, *, instance: str) -> dict[str, int]:
    """Delete every row of ``tenant`` on ``instance`` in one transaction; how many per table."""
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        other = exists().where(tenants.c.id == tenant, tenants.c.instance != instance)
        elsewhere = conn.execute(select(other)).scalar()
        for name, (table, where) in TENANT_TABLES.items():
            if name in SHARED_TABLES and elsewhere:
                counts[name] = 0  # still the same-named tenant's on another instance
                continue
            counts[name] = conn.execute(delete(table).where(where(tenant, instance))).rowcount or 0
    return counts


def tenant_work(engine: Engine, tenant: str, *, instance: str) -> dict[str, list[tuple[str, str]]]:
    """The tenant's work that may still start or run: ``{"tasks": unfinished, "pipelines":
    running, "schedules": all}``, each as ``(id, owner id)``."""
    from ..models.enums import TERMINAL_STATUSES

    ended = [s.value for s in TERMINAL_STATUSES]
    with engine.connect() as conn:
        def ids(table: Table, extra: ColumnElement[bool]) -> list[tuple[str, str]]:
            where = TENANT_TABLES[table.name][1](tenant, instance)
            return [(r.id, r.user_id) for r in conn.execute(select(table.c.id, table.c.user_id).where(where & extra))]

        return {"tasks": ids(tasks, tasks.c.status.not_in(ended)),
                "pipelines": ids(pipelines, pipelines.c.status == "running"),
                "schedules": ids(schedules, schedules.c.id.is_not(None))}


__all__ = ["SHARED_TABLES", "TENANT_TABLES", "delete_tenant_rows", "tenant_rows", "tenant_work"]
