"""A tenant's limits: what all of its users together may spend, send and run (docs/tenants.md).

An operator sets them (``videoai tenant limits``, ``PUT /api/v1/admin/tenants/{id}/limits``); they
are stored as JSON in the tenant's row and read back through the tenant directory (cached
``tenant_cache_seconds``). Each limit binds the tenant's users *together*, on top of each user's
own limits, which still apply:

* ``daily_budget_usd`` / ``monthly_budget_usd``: what the tenant's tasks may cost per UTC day and
  per UTC calendar month (an attempt that would go over fails ``budget_exceeded``, as a user's);
* ``rpm``: requests per minute over every route and every user of the tenant (429 ``rate_limited``);
* ``max_in_flight``: attempts of the tenant's users running at once (more wait in the queue);
* ``max_schedules`` / ``max_experiments``: schedules that can still fire and experiments running,
  over all of its users (409 ``quota_exceeded``);
* ``weight``: the tenant's share of turns against the other tenants waiting at one priority
  (then its users take turns inside that share).

A limit left out (or ``null``) does not bind. Input is validated by ``parse_limits``: a negative,
non-finite or otherwise bad value is an ``InvalidRequest`` naming the field, and nothing is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidRequest
from ..scheduler.queue import MAX_WEIGHT, MIN_WEIGHT


class TenantLimits(BaseModel):
    """A tenant's limits; each one left out (``null``) does not bind."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    #: USD the tenant's tasks may cost per UTC day (0: nothing that costs may run)
    daily_budget_usd: float | None = Field(default=None, ge=0, le=1e12)
    #: USD the tenant's tasks may cost per UTC calendar month
    monthly_budget_usd: float | None = Field(default=None, ge=0, le=1e12)
    #: HTTP requests per minute over all of the tenant's users and routes
    rpm: int | None = Field(default=None, ge=1, le=10**9)
    #: attempts of the tenant's users in flight at once (more wait in the queue)
    max_in_flight: int | None = Field(default=None, ge=1, le=10**6)
    #: schedules (active or paused) the tenant's users may hold together (0: none)
    max_schedules: int | None = Field(default=None, ge=0, le=10**6)
    #: experiments the tenant's users may run together (0: none)
    max_experiments: int | None = Field(default=None, ge=0, le=10**6)
    #: the tenant's share of turns against other tenants at one priority (default 1)
    weight: float | None = Field(default=None, ge=MIN_WEIGHT, le=MAX_WEIGHT)


#: the fields, in the order the CLI and the docs show them
LIMIT_FIELDS = tuple(TenantLimits.model_fields)


def _coerce(name: str, value: Any) -> Any:
    """Ints may come as whole floats from JSON (``4.0``), floats as ints (``5``); anything else
    is left to the model to refuse."""
    field = TenantLimits.model_fields[name]
    if isinstance(value, bool) or value is None:
        return value
    if "int" in str(field.annotation) and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if "float" in str(field.annotation) and isinstance(value, int):
        return float(value)
    return value


def parse_limits(body: Any) -> dict[str, Any]:
    """The limits in ``body`` (a JSON object), with the ones that bind only; ``InvalidRequest``
    naming the first bad field otherwise."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("body: must be a JSON object of limits", field="body")
    unknown = sorted(str(k) for k in body if k not in LIMIT_FIELDS)
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: unknown limit (one of {', '.join(LIMIT_FIELDS)})", field=unknown[0])
    try:
        limits = TenantLimits.model_validate({k: _coerce(k, v) for k, v in body.items()})
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "body"
        raise InvalidRequest(f"{name}: {err['msg']}", field=name) from None
    return limits.model_dump(exclude_none=True)


__all__ = ["LIMIT_FIELDS", "TenantLimits", "parse_limits"]
