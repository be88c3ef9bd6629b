"""The tenants' limits as the Scheduler applies them (docs/tenants.md): in-flight caps and weights
(``fairness.FairShare``, ``queue.AgingQueue``) and budgets (``budgets.BudgetLedger``).

Dispatch reads them from memory only: a loop reads every tenant's limits from the store once
per ``tenant_cache_seconds`` (one query, off the event loop, through ``StoreWatch``) and tells
the Scheduler's parts about the tenants whose limits changed. So a change made by an operator
binds within that many seconds (plus one dispatch round), and no dispatch waits on the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from ..store.tenants import list_tenants

if TYPE_CHECKING:
    from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")

_NONE: Mapping[str, Any] = {}


class TenantLimitBook:
    """Each tenant's limits (``tenants.limit_spec``), as last read from the store."""

    def __init__(self, limits: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._limits: dict[str, dict[str, Any]] = {t: dict(v) for t, v in (limits or {}).items() if v}

    def of(self, tenant: str | None) -> Mapping[str, Any]:
        """``tenant``'s limits (empty: none bind, or no tenant)."""
        return self._limits.get(tenant, _NONE) if tenant is not None else _NONE

    def apply(self, limits: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
        """Take every tenant's limits as read now; the tenants whose limits changed."""
        fresh = {t: dict(v) for t, v in limits.items() if v}
        changed = sorted(t for t in set(fresh) | set(self._limits) if fresh.get(t) != self._limits.get(t))
        self._limits = fresh
        return changed

    async def loop(self, state: SchedulerState) -> None:
        """Read the limits every ``tenant_cache_seconds`` (at least every 0.1 s apart) and tell
        ``state`` which tenants changed; a store outage keeps the limits last read."""
        engine, instance = state.store.engine, state.settings.instance
        while True:
            try:
                rows = await state.watch.call(partial(list_tenants, engine, instance=instance))
                for tenant in self.apply({r["id"]: r["limits"] for r in rows}):
                    state.tenant_limits_changed(tenant)
            except Exception as exc:
                if not state.watch.failed(exc, "tenants' limits stay as last read"):
                    log.error("reading the tenants' limits failed; keeping the last ones", exc_info=True)
            await asyncio.sleep(max(state.settings.tenant_cache_seconds, 0.1))


__all__ = ["TenantLimitBook"]
