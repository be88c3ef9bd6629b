"""``videoai experiment demo``: an A/B report from two local test providers, end to end.

It starts a Scheduler of its own (instance ``ab-demo``, a temporary data folder, removed after)
with two providers from ``providers.testing`` that do no media work and say so: ``steady``
(0.20 s, $0.004 a task, fails 2 % of tasks) and ``quick`` (0.12 s, $0.002, fails 10 %). It
first warms both up (a few tasks pinned to each, outside any experiment: a provider's first
attempts also wait for its worker actor to start), then starts an experiment splitting image tasks
50/50 between them, sends ``tasks`` image tasks as one SDK batch, waits, and prints the report as
Markdown tables (docs/experiments.md shows one).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .handle import ExperimentReport


def run_ab_demo(tasks: int = 400) -> ExperimentReport:
    from .. import connect
    from ..providers.base import Provider
    from ..providers.testing import FailureRateProvider
    from ..scheduler import kill_scheduler
    from ..settings import Settings

    home = Path(tempfile.mkdtemp(prefix="videoai-ab-"))
    settings = Settings(home=home, instance="ab-demo", database_url=None, redis_url=None)
    providers: list[Provider] = [FailureRateProvider(0.02, latency=0.20, max_concurrency=8, name="steady", cost=0.004),
                                 FailureRateProvider(0.10, latency=0.12, max_concurrency=8, name="quick", cost=0.002)]
    try:
        client = connect(settings=settings, providers=providers, user_id="ab-demo")
        client.batch([{"task_type": "image_generation", "input_data": {"prompt": f"warm-up {i}", "provider": p.name}}
                      for p in providers for i in range(16)]).wait()
        exp = client.experiment(name="steady vs quick", task_type="image_generation",
                                arms=[{"provider": "steady", "weight": 1}, {"provider": "quick", "weight": 1}])
        client.batch([{"task_type": "image_generation", "input_data": {"prompt": f"a lighthouse, take {i}"}}
                      for i in range(tasks)]).wait()
        exp.stop()
        return exp.report()
    finally:
        kill_scheduler(settings)
        shutil.rmtree(home, ignore_errors=True)


def report_markdown(report: ExperimentReport) -> str:
    """The report as two Markdown tables: the arms, and each arm against the baseline."""
    arms = report.frame[["provider", "tasks", "completed", "failed", "success_rate", "success_rate_ci_low",
                         "success_rate_ci_high", "latency_p50_s", "latency_p95_s", "cost_per_task_usd"]]
    comp = report.comparisons[["baseline", "success_rate_diff", "success_rate_diff_ci_low",
                               "success_rate_diff_ci_high", "latency_p50_diff_s", "latency_p50_diff_ci_s_low",
                               "latency_p50_diff_ci_s_high"]]
    return f"{_markdown(arms)}\n\n{_markdown(comp)}\n\n95 % intervals; {report.raw['methods']['latency']}."


def _markdown(df: pd.DataFrame) -> str:
    cols = [str(df.index.name or ""), *map(str, df.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx), *(_cell(v) for v in row)]) + " |")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v)


__all__ = ["report_markdown", "run_ab_demo"]
