"""What a batch would cost and how long it would take, before it is submitted: each item goes to
the provider the dispatcher would choose (its pin, else the strategy's first choice), costs that
provider's ``estimate_cost`` (the price table, for the cloud providers), and takes its live
latency (the moving average of its recent successful attempts)."""

from __future__ import annotations

import math
from typing import Any

from ..models import Strategy, TaskType
from ..models.record import request_from_input
from ..providers.registry import ProviderRegistry


def estimate_chunk(registry: ProviderRegistry, default_strategy: Strategy,
                   items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"providers": {name: {tasks, cost_usd, latency_s, max_concurrency}}, "unservable": {reason: n}}``
    for a chunk of prepared submissions; chunks add up with ``merge``."""
    providers: dict[str, dict[str, Any]] = {}
    unservable: dict[str, int] = {}
    for it in items:
        ttype = TaskType(it["type"])
        request = request_from_input(ttype, it["input"])
        pinned = it["options"].get("provider")
        names = registry.candidates(ttype, request, pinned)
        if not names:
            reason = registry.explain_none(ttype, request, pinned).message
            unservable[reason] = unservable.get(reason, 0) + 1
            continue
        name = registry.preferred(names, Strategy(it["options"].get("strategy") or default_strategy), request)
        row = providers.get(name)
        if row is None:
            p, stats = registry.get(name), registry.stats(name)
            row = providers[name] = {"tasks": 0, "cost_usd": 0.0, "latency_s": stats.latency,
                                     "max_concurrency": p.max_concurrency}
        row["tasks"] += 1
        row["cost_usd"] += float(registry.get(name).estimate_cost(request))
    return {"providers": providers, "unservable": unservable}


def merge(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Add one chunk's estimate to the running total."""
    for name, row in part["providers"].items():
        into = total["providers"].setdefault(name, {**row, "tasks": 0, "cost_usd": 0.0})
        into["tasks"] += row["tasks"]
        into["cost_usd"] += row["cost_usd"]
    for reason, n in part["unservable"].items():
        total["unservable"][reason] = total["unservable"].get(reason, 0) + n
    return total


def provider_duration(tasks: int, latency_s: float | None, max_concurrency: int) -> float | None:
    """Seconds a provider needs for ``tasks`` attempts at its cap, one latency per wave (``None``
    while no attempt of it has been timed yet)."""
    if latency_s is None:
        return None
    return math.ceil(tasks / max(1, max_concurrency)) * latency_s


__all__ = ["estimate_chunk", "merge", "provider_duration"]
