"""Creating, reading, suspending and resuming tenants: what ``videoai tenant ...`` and the
operator's ``/api/v1/admin/tenants`` routes call. Input is validated here, once for both doors;
bad input is an ``InvalidRequest`` naming the field, and nothing is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from ..errors import InvalidRequest, TenantExists, TenantNotFound
from ..store.tenants import get_tenant, insert_tenant, list_tenants, set_tenant_limits, set_tenant_status
from .directory import TenantDirectory
from .ids import check_tenant_id
from .limit_spec import parse_limits

#: the fields ``POST /admin/tenants`` takes
CREATE_FIELDS = ("id", "display_name")
#: the longest display name
MAX_DISPLAY_NAME = 200
STATUSES = ("active", "suspended")


def check_display_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("display_name: a non-empty string is required", field="display_name")
    if len(value) > MAX_DISPLAY_NAME or not value.isprintable():
        raise InvalidRequest(f"display_name: at most {MAX_DISPLAY_NAME} printable characters", field="display_name")
    return value.strip()


def tenant_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A tenant as JSON (times in ISO 8601)."""
    return {**row, "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}


class TenantService:
    """The tenants of one instance's store; ``directory`` answers whether one may work now."""

    def __init__(self, engine: Engine, instance: str, cache_seconds: float = 2.0) -> None:
        self.engine, self.instance = engine, instance
        self.directory = TenantDirectory(engine, instance, cache_seconds)

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new active tenant from ``{"id", "display_name"?}`` (``TenantExists`` when taken)."""
        unknown = sorted(set(body) - set(CREATE_FIELDS))
        if unknown:
            raise InvalidRequest(f"{unknown[0]}: unknown field", field=unknown[0])
        tenant_id = check_tenant_id(body.get("id"), "id")
        name = check_display_name(body.get("display_name", tenant_id))
        row = insert_tenant(self.engine, tenant_id, name, instance=self.instance)
        if row is None:
            raise TenantExists(f"tenant {tenant_id} exists already")
        return tenant_view(row)

    def get(self, tenant_id: str) -> dict[str, Any]:
        row = get_tenant(self.engine, tenant_id, instance=self.instance) if isinstance(tenant_id, str) else None
        if row is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant_view(row)

    def list(self) -> list[dict[str, Any]]:
        return [tenant_view(r) for r in list_tenants(self.engine, instance=self.instance)]

    def set_status(self, tenant_id: str, status: str) -> dict[str, Any]:
        """Suspend (``suspended``) or resume (``active``) a tenant; doing it twice is harmless."""
        if status not in STATUSES:
            raise InvalidRequest(f"status: one of {', '.join(STATUSES)}", field="status")
        row = set_tenant_status(self.engine, tenant_id, status, instance=self.instance)
        if row is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant_view(row)

    def set_limits(self, tenant_id: str, body: Any) -> dict[str, Any]:
        """Replace the tenant's limits with those in ``body`` (``{}``: none bind). A bad value is an
        ``InvalidRequest`` naming the field, and nothing is stored. They take effect within
        ``tenant_cache_seconds`` (docs/tenants.md)."""
        limits = parse_limits(body)
        return self._store_limits(tenant_id, limits)

    def update_limits(self, tenant_id: str, body: Any) -> dict[str, Any]:
        """Change only the limits named in ``body`` (``null`` removes one); checked as a whole
        like ``set_limits``."""
        if not isinstance(body, Mapping):
            raise InvalidRequest("body: must be a JSON object of limits", field="body")
        current = self.get(tenant_id)["limits"] or {}
        merged = {k: v for k, v in {**current, **body}.items() if v is not None}
        parse_limits(body)  # names the bad field of what was sent, not of what was stored
        return self._store_limits(tenant_id, parse_limits(merged))

    def _store_limits(self, tenant_id: str, limits: dict[str, Any]) -> dict[str, Any]:
        row = set_tenant_limits(self.engine, tenant_id, limits, instance=self.instance)
        if row is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant_view(row)
