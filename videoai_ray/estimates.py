"""``client.estimate(items)``: what a batch would cost and how long it would take, before it is
submitted, from the price table (each provider's ``estimate_cost``) and the providers' live
latencies (moving averages of their recent successful attempts)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .scheduler.estimate import provider_duration


@dataclass
class Estimate:
    """Expected cost and duration of a batch.

    ``duration_s`` assumes the providers start with empty queues and run at their concurrency
    caps, in parallel with each other (the slowest provider sets it); it is ``None`` when a
    provider the batch needs has no timed attempt yet (``by_provider`` shows which)."""

    tasks: int
    cost_usd: float
    duration_s: float | None
    by_provider: pd.DataFrame
    #: items no provider can serve now, per reason (they would fail with ``no_provider``)
    unservable: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_totals(cls, tasks: int, totals: dict[str, Any]) -> Estimate:
        rows = []
        for name, r in sorted(totals["providers"].items()):
            rows.append({"provider": name, "tasks": r["tasks"], "cost_usd": round(r["cost_usd"], 6),
                         "latency_s": r["latency_s"], "max_concurrency": r["max_concurrency"],
                         "duration_s": provider_duration(r["tasks"], r["latency_s"], r["max_concurrency"])})
        frame = pd.DataFrame.from_records(rows, columns=["provider", "tasks", "cost_usd", "latency_s",
                                                         "max_concurrency", "duration_s"]).set_index("provider")
        for col in ("cost_usd", "latency_s", "duration_s"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        durations = [r["duration_s"] for r in rows]
        duration = None if any(d is None for d in durations) else max(durations, default=0.0)
        return cls(tasks, round(float(frame["cost_usd"].sum()), 6), duration, frame, dict(totals["unservable"]))

    def __repr__(self) -> str:
        took = "unknown (no timed attempt yet)" if self.duration_s is None else f"~{self.duration_s:.1f} s"
        extra = f", {sum(self.unservable.values())} unservable" if self.unservable else ""
        return f"<Estimate {self.tasks} tasks: ${self.cost_usd:.4f}, {took}{extra}>"

    def _repr_html_(self) -> str:
        return f"<b>{html.escape(repr(self))}</b>{self.by_provider.to_html()}"


__all__ = ["Estimate"]
