"""Whether a tenant exists and is active, and its limits (``tenants.limit_spec``), as the API's door
and the schedule runner ask them.

Both ask on every request (every tick), so the answer is kept for ``tenant_cache_seconds`` (2 s by
default) instead of reading the store each time: a suspension, a resumption, a new tenant or new
limits take effect within that many seconds on every API replica and in the Scheduler, and the
store sees at most one read per tenant and replica in that time, whatever the request rate. Unknown tenants are
remembered too, so a flood of tokens naming one costs no more.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from cachetools import TTLCache
from sqlalchemy import Engine

from ..store.tenants import get_tenant

#: what the directory knows of a tenant: ``None`` when there is no such tenant
TenantState = Literal["active", "suspended"] | None
#: ``cached``'s answer when the state has to be read from the store
MISSING = object()

class TenantDirectory:
    """Tenant states and limits of one instance's store, each kept for ``ttl`` seconds."""

    def __init__(self, engine: Engine, instance: str, ttl: float, size: int = 10_000) -> None:
        self.engine, self.instance = engine, instance
        #: tenant -> (state, limits): what the store said, ``(None, {})`` for no such tenant
        self._known: TTLCache[str, tuple[TenantState, dict[str, Any]]] = TTLCache(
            maxsize=size, ttl=max(ttl, 0.001), timer=time.monotonic)
        self._lock = threading.Lock()

    def cached(self, tenant: str) -> TenantState | object:
        """The state known now, or ``MISSING`` when it has to be read (``load``)."""
        with self._lock:
            known = self._known.get(tenant)
        return MISSING if known is None else known[0]

    def load(self, tenant: str) -> TenantState:
        """The state read from the store now (blocking), and kept with the tenant's limits."""
        return self._read(tenant)[0]

    def _read(self, tenant: str) -> tuple[TenantState, dict[str, Any]]:
        row = get_tenant(self.engine, tenant, instance=self.instance)
        known: tuple[TenantState, dict[str, Any]] = (row["status"], dict(row["limits"] or {})) if row else (None, {})
        with self._lock:
            self._known[tenant] = known
        return known

    def state(self, tenant: str) -> TenantState:
        """The state, from memory when it is fresh enough (blocking on a miss)."""
        hit = self.cached(tenant)
        return self.load(tenant) if hit is MISSING else hit  # type: ignore[return-value]

    def cached_limits(self, tenant: str) -> dict[str, Any] | object:
        """The tenant's limits known now (``{}``: none bind, or no such tenant), or ``MISSING``."""
        with self._lock:
            known = self._known.get(tenant)
        return MISSING if known is None else known[1]

    def limits(self, tenant: str) -> dict[str, Any]:
        """The tenant's limits (``tenants.limit_spec``), from memory when fresh enough (blocking on a
        miss); ``{}`` when none bind or there is no such tenant."""
        hit = self.cached_limits(tenant)
        return self._read(tenant)[1] if hit is MISSING else hit  # type: ignore[return-value]

    def refusal(self, tenant: str | None) -> str | None:
        """Why work of ``tenant`` may not start now (``None``: it may; so may work of no tenant)."""
        if tenant is None:
            return None
        state = self.state(tenant)
        if state is None:
            return f"tenant {tenant} does not exist"
        return None if state == "active" else f"tenant {tenant} is suspended"
