"""Fair sharing between users: each user's weight (their share of turns against the other users
waiting at the same priority, see ``queue.py``) and cap on attempts in flight, and the count of
the attempts each user has in flight.

A user's weight and cap come from their token (the ``weight`` and ``max_in_flight`` claims, which
reach the Scheduler in each task's options as ``share``), else from the settings' per-user maps,
else from the settings' defaults. The user's latest task to be queued says what their token
claims (a task without claims, e.g. from the SDK, means none).
With ``fair_share`` off every task is queued under one key: strict FIFO within a priority, and
no per-user cap.

Tenants (docs/tenants.md) add a level above the users: a tenant's users are one group in the
queue (``owner_prefix``, ``acme/``), which takes turns against the other tenants by the tenant's
``weight`` limit, and the tenant's ``max_in_flight`` limit caps the attempts of all of its users
together: at the cap the group is in ``full``, and the queue passes over the whole tenant. The
limits come from the ``TenantLimitBook`` (memory; refreshed off the event loop). Users without
a tenant are the group ``""`` (weight 1, no cap of its own), so without tenants nothing changes.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from ..models import Priority
from ..tenants.ids import owner_prefix, tenant_of
from .tenant_limits import TenantLimitBook

if TYPE_CHECKING:
    from ..settings import Settings
    from .queue import AgingQueue
    from .state import Active


class FairShare:
    """The Scheduler's per-user weights, caps and attempts in flight."""

    def __init__(self, settings: Settings, tenants: TenantLimitBook | None = None) -> None:
        self.enabled = settings.fair_share
        self.tenants = tenants if tenants is not None else TenantLimitBook()
        self._default_weight = settings.fair_share_default_weight
        self._weights = settings.fair_share_weights
        self._default_cap = settings.user_max_in_flight
        self._caps = settings.user_max_in_flight_by_user
        #: what each user's token claimed (``{"weight": .., "max_in_flight": ..}``), latest task
        self._claims: dict[str, dict[str, Any]] = {}
        #: task id -> user, for the attempts in flight
        self._running: dict[str, str] = {}
        self.in_flight: Counter[str] = Counter()
        #: attempts in flight per tenant group (``acme/``)
        self.group_in_flight: Counter[str] = Counter()
        #: the users at their cap, and the tenant groups (``acme/``: a user id never ends with
        #: ``/``) at theirs: the dispatcher passes over their queued tasks
        self.full: set[str] = set()

    # -- what a user is allowed ----------------------------------------------------------------

    def weight(self, user: str) -> float:
        claimed = self._claims.get(user, {}).get("weight")
        if claimed is not None:
            return float(claimed)
        return float(self._weights.get(user, self._default_weight))

    def cap(self, user: str) -> int | None:
        claimed = self._claims.get(user, {}).get("max_in_flight")
        if claimed is not None:
            return int(claimed)
        return self._caps.get(user, self._default_cap)

    def group_weight(self, group: str) -> float:
        """A tenant group's share of turns against the other tenants (1 without a ``weight``
        limit, and for the users without a tenant)."""
        weight = self.tenants.of(tenant_of(group)).get("weight") if group else None
        return 1.0 if weight is None else float(weight)

    def group_cap(self, group: str) -> int | None:
        cap = self.tenants.of(tenant_of(group)).get("max_in_flight") if group else None
        return None if cap is None else int(cap)

    def key(self, act: Active) -> tuple[str, float, str, float]:
        """``(user, weight, group, group weight)`` under which ``act`` is queued
        (``("", 1.0, "", 1.0)`` with fairness off); notes the claims of the token it was
        submitted with."""
        if not self.enabled:
            return "", 1.0, "", 1.0
        claims = act.options.get("share")
        if not isinstance(claims, dict):
            claims = None
        if claims != self._claims.get(act.user_id):
            if claims is None:
                del self._claims[act.user_id]
            else:
                self._claims[act.user_id] = claims
            self._refresh(act.user_id)
        group = group_of(act.user_id)
        return act.user_id, self.weight(act.user_id), group, self.group_weight(group)

    # -- attempts in flight --------------------------------------------------------------------

    def started(self, act: Active) -> None:
        if not self.enabled or act.id in self._running:
            return
        self._running[act.id] = act.user_id
        self.in_flight[act.user_id] += 1
        self._refresh(act.user_id)
        group = group_of(act.user_id)
        if group:
            self.group_in_flight[group] += 1
            self.refresh_group(group)

    def ended(self, task_id: str) -> None:
        user = self._running.pop(task_id, None)
        if user is None:
            return
        self.in_flight[user] -= 1
        if self.in_flight[user] <= 0:
            del self.in_flight[user]
        self._refresh(user)
        group = group_of(user)
        if group:
            self.group_in_flight[group] -= 1
            if self.group_in_flight[group] <= 0:
                del self.group_in_flight[group]
            self.refresh_group(group)

    def refresh_group(self, group: str) -> None:
        """Whether a tenant group is at its cap (after a start, an end, or a change of limits)."""
        self._mark(group, self.group_cap(group), self.group_in_flight.get(group, 0))

    def _refresh(self, user: str) -> None:
        self._mark(user, self.cap(user), self.in_flight.get(user, 0))

    def _mark(self, key: str, cap: int | None, running: int) -> None:
        """``key`` (a user, or a tenant group) is full while it runs its cap."""
        if cap is not None and running >= cap:
            self.full.add(key)
        else:
            self.full.discard(key)

    # -- statistics ----------------------------------------------------------------------------

    def describe(self, user: str, queues: list[AgingQueue]) -> dict[str, Any]:
        """``user``'s own numbers: queued per priority (``None`` with fairness off, when the
        queues do not tell users apart), in flight, weight and cap; for a tenant's user, its
        tenant's (``tenant``: the attempts of all its users in flight, its weight and cap, and
        whether it is at that cap, so a user whose tasks wait sees why). Nothing in it names
        another user."""
        by_priority: dict[str, int] | None = None
        if self.enabled:
            by_priority = dict.fromkeys((p.value for p in Priority), 0)
            for q in queues:
                if q.queued(user):
                    for prio, n in q.depth_of(user).items():
                        by_priority[prio] += n
        return {
            "enabled": self.enabled,
            "queued": sum(by_priority.values()) if by_priority is not None else None,
            "queued_by_priority": by_priority,
            "in_flight": self.in_flight.get(user, 0) if self.enabled else None,
            "weight": self.weight(user),
            "max_in_flight": self.cap(user),
            "at_cap": user in self.full,
            "tenant": self._describe_group(group_of(user)),
        }

    def _describe_group(self, group: str) -> dict[str, Any] | None:
        if not group:
            return None
        return {"id": tenant_of(group), "in_flight": self.group_in_flight.get(group, 0) if self.enabled else None,
                "weight": self.group_weight(group), "max_in_flight": self.group_cap(group),
                "at_cap": group in self.full}


def group_of(user: str) -> str:
    """The queue group of an owner id: its tenant's prefix (``acme/``), ``""`` without a tenant."""
    tenant = tenant_of(user)
    return owner_prefix(tenant) if tenant is not None else ""


__all__ = ["FairShare", "group_of"]
