"""What a pipeline or a schedule keeps of the request that made it, so that each of its steps or
ticks is admitted under the same rules and claims, long after that request is gone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def door_context(*, http: bool, tenant: str | None, share: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a pipeline or a schedule keeps of the request that made it, to apply to each step or
    tick: the door (``http``: its input rules) and the token's ``tenant`` and fair-share claims."""
    return {"http": bool(http), "tenant": tenant, "share": dict(share) if share else None}


__all__ = ["door_context"]
