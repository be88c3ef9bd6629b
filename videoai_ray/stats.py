"""The VideoAI API contract's statistics (success rate, mean duration per type, cost per provider, queue per
priority, provider health), computed from SQL aggregates plus the Scheduler's live numbers.
Plain dicts here; the SDK turns them into pandas frames, the API returns them as JSON."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_DONE = ("completed", "failed")


def _rate(ok: int, bad: int) -> float | None:
    return ok / (ok + bad) if ok + bad else None


def compute_statistics(groups: list[dict[str, Any]], live: dict[str, Any] | None) -> dict[str, Any]:
    by_status: dict[str, int] = defaultdict(int)
    by_type: dict[str, dict[str, Any]] = {}
    by_provider: dict[str, dict[str, Any]] = {}
    by_model: dict[str, dict[str, Any]] = {}
    cache_hits = 0
    for g in groups:
        n = int(g["count"])
        by_status[g["status"]] += n
        cache_hits += int(g["cache_hits"] or 0)
        tables = [(g["type"], by_type), (g["provider"] or "(none)", by_provider)]
        if g.get("model"):
            tables.append((g["model"], by_model))
        for key, table in tables:
            row = table.setdefault(key, {"tasks": 0, "completed": 0, "failed": 0, "cancelled": 0,
                                         "active": 0, "cost": 0.0, "_dur_sum": 0.0, "_dur_n": 0})
            row["tasks"] += n
            if g["status"] in ("completed", "failed", "cancelled"):
                row[g["status"]] += n
            else:
                row["active"] += n
            row["cost"] += float(g["cost"] or 0.0)
            if g["status"] == "completed" and g["mean_duration_s"] is not None:
                row["_dur_sum"] += float(g["mean_duration_s"]) * n
                row["_dur_n"] += n
    for table in (by_type, by_provider, by_model):
        for row in table.values():
            dur_n = row.pop("_dur_n")
            dur_sum = row.pop("_dur_sum")
            row["mean_duration_s"] = dur_sum / dur_n if dur_n else None
            row["success_rate"] = _rate(row["completed"], row["failed"])
            row["cost"] = round(row["cost"], 6)
    total = sum(by_status.values())
    live = live or {}
    return {
        "total_tasks": total,
        "by_status": dict(by_status),
        "success_rate": _rate(by_status.get("completed", 0), by_status.get("failed", 0)),
        "cache_hits": cache_hits,
        "by_type": by_type,
        "by_provider": by_provider,
        "by_model": by_model,
        "total_cost": round(sum(r["cost"] for r in by_provider.values()), 6),
        "queue_depth": live.get("queue_depth", {}),
        "in_flight": live.get("in_flight", {}),
        "providers": live.get("providers", []),
        "cache": live.get("cache", {}),
        **({"fair_share": live["fair_share"]} if "fair_share" in live else {}),
    }
