"""The ``tenants`` rows of one instance: create, read, list, and change a tenant's status.

Validation is the caller's (``tenants.service``); these functions store what they are given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from .schema import tenants
from .store import utcnow


def _view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "display_name": row.display_name, "status": row.status, "limits": row.limits,
            "created_at": row.created_at, "updated_at": row.updated_at}


def insert_tenant(engine: Engine, tenant_id: str, display_name: str, *, instance: str) -> dict[str, Any] | None:
    """Store a new active tenant; its row, or ``None`` when the id is taken."""
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(insert(tenants).values(instance=instance, id=tenant_id, display_name=display_name,
                                                status="active", limits=None, created_at=now, updated_at=now))
    except IntegrityError:
        return None
    return get_tenant(engine, tenant_id, instance=instance)


def get_tenant(engine: Engine, tenant_id: str, *, instance: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(tenants).where(tenants.c.instance == instance, tenants.c.id == tenant_id)).first()
    return _view(row) if row else None


def list_tenants(engine: Engine, *, instance: str) -> list[dict[str, Any]]:
    """Every tenant of the instance, by id."""
    with engine.connect() as conn:
        rows = conn.execute(select(tenants).where(tenants.c.instance == instance).order_by(tenants.c.id)).all()
    return [_view(r) for r in rows]


def set_tenant_status(engine: Engine, tenant_id: str, status: str, *, instance: str) -> dict[str, Any] | None:
    """Set a tenant's status; its row, or ``None`` when there is no such tenant."""
    with engine.begin() as conn:
        conn.execute(update(tenants).where(tenants.c.instance == instance, tenants.c.id == tenant_id,
                                           tenants.c.status != status)
                     .values(status=status, updated_at=utcnow()))
    return get_tenant(engine, tenant_id, instance=instance)


def set_tenant_limits(engine: Engine, tenant_id: str, limits: dict[str, Any] | None, *,
                      instance: str) -> dict[str, Any] | None:
    """Replace a tenant's limits (``None``: none bind); its row, or ``None`` when there is no such
    tenant."""
    with engine.begin() as conn:
        conn.execute(update(tenants).where(tenants.c.instance == instance, tenants.c.id == tenant_id)
                     .values(limits=limits or None, updated_at=utcnow()))
    return get_tenant(engine, tenant_id, instance=instance)


__all__ = ["get_tenant", "insert_tenant", "list_tenants", "set_tenant_limits", "set_tenant_status"]
