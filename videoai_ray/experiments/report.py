"""An experiment's report: each arm's numbers and each arm compared with the baseline.

Per arm: tasks, how many are still running, completed, failed, cancelled, answered from the
cache; the success rate (completed / (completed + failed), provider runs only: cache hits and
cancelled tasks are left out) with its Wilson interval; latency p50 and p95 (first start to end
of the completed tasks, seconds); cost per finished task and in total. Per other arm against the
baseline: the difference in success rate (Newcombe's hybrid score interval) and in median
latency (percentile bootstrap, fixed seed). ``by_provider`` counts the same tasks by the provider
that actually ran them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .models import Experiment
from .stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    bootstrap_median_diff,
    newcombe_diff,
    percentile,
    wilson,
)

_METHODS = {
    "confidence": CONFIDENCE,
    "success_rate": "Wilson score interval per arm; difference: Newcombe hybrid score interval (1998, method 10)",
    "latency": f"difference of medians: percentile bootstrap, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}",
    "latency_measure": "seconds from a task's first start to its end, completed provider runs only",
    "success_measure": "completed / (completed + failed), provider runs only (no cache hits, no cancelled)",
}


def build_report(exp: Experiment, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report of ``exp`` from its tasks' rows (``store.experiments.experiment_task_rows``)."""
    by_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_arm[r["arm"]].append(r)
    arms: list[dict[str, Any]] = []
    latencies: dict[str, list[float]] = {}
    outcomes: dict[str, tuple[int, int]] = {}
    for arm in exp.arms:
        summary, lat = _summarise(by_arm.get(arm.label, []))
        arms.append({"arm": arm.label, "provider": arm.provider, "model": arm.model, "weight": arm.weight,
                     **summary})
        latencies[arm.label] = lat
        outcomes[arm.label] = (summary["completed"], summary["decided"])
    base = exp.baseline
    comparisons = []
    for arm in exp.arms:
        if arm.label == base:
            continue
        (s1, n1), (s0, n0) = outcomes[arm.label], outcomes[base]
        rate = newcombe_diff(s1, n1, s0, n0)
        med = bootstrap_median_diff(latencies[arm.label], latencies[base])
        comparisons.append({
            "arm": arm.label, "baseline": base,
            "success_rate_diff": rate[0] if rate else None,
            "success_rate_diff_ci": [rate[1], rate[2]] if rate else None,
            "latency_p50_diff_s": med[0] if med else None,
            "latency_p50_diff_ci_s": [med[1], med[2]] if med else None,
        })
    return {"experiment": exp.public(), "baseline": base, "tasks": len(rows), "arms": arms,
            "comparisons": comparisons, "by_provider": _by_provider(rows), "methods": _METHODS}


def _summarise(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[float]]:
    counts: dict[str, int] = defaultdict(int)
    cache_hits, cost, latencies = 0, 0.0, []
    for r in rows:
        if r["cache_hit"]:
            cache_hits += 1
            continue
        counts[r["status"]] += 1
        cost += r["cost"] or 0.0
        if r["status"] == "completed" and r["started_at"] and r["finished_at"]:
            latencies.append((r["finished_at"] - r["started_at"]).total_seconds())
    completed, failed = counts["completed"], counts["failed"]
    decided = completed + failed
    ci = wilson(completed, decided)
    finished = decided + counts["cancelled"]
    return {
        "tasks": len(rows), "running": len(rows) - cache_hits - finished, "completed": completed, "failed": failed,
        "cancelled": counts["cancelled"], "cache_hits": cache_hits, "decided": decided,
        "success_rate": completed / decided if decided else None,
        "success_rate_ci": list(ci) if ci else None,
        "latency_p50_s": percentile(latencies, 50), "latency_p95_s": percentile(latencies, 95),
        "cost_usd": round(cost, 6), "cost_per_task_usd": round(cost / finished, 6) if finished else None,
    }, latencies


def _by_provider(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if not r["cache_hit"] and r["provider"]:
            groups[(r["arm"], r["provider"])].append(r)
    out = []
    for (arm, provider), rs in sorted(groups.items()):
        summary, _ = _summarise(rs)
        out.append({"arm": arm, "provider": provider, "tasks": summary["tasks"], "completed": summary["completed"],
                    "failed": summary["failed"], "success_rate": summary["success_rate"],
                    "latency_p50_s": summary["latency_p50_s"]})
    return out


__all__ = ["build_report"]
