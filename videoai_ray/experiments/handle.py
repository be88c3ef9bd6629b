"""The SDK side of an experiment: ``client.experiment(...)`` returns an ``ExperimentHandle``;
``handle.report()`` an ``ExperimentReport`` whose ``frame`` holds one row per arm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..client_namespaces import ClientNamespace

if TYPE_CHECKING:
    from ..client import Client


@dataclass
class ExperimentReport:
    """An experiment's arms compared: ``frame`` (one row per arm: counts, success rate and its
    interval, latency p50/p95, cost), ``comparisons`` (each arm minus the baseline, with
    intervals), ``by_provider`` (by the provider that ran); ``raw`` is the HTTP API's JSON."""

    raw: dict[str, Any]

    @property
    def frame(self) -> pd.DataFrame:
        return _frame(self.raw["arms"], "arm", "success_rate_ci")

    @property
    def comparisons(self) -> pd.DataFrame:
        return _frame(self.raw["comparisons"], "arm", "success_rate_diff_ci", "latency_p50_diff_ci_s")

    @property
    def by_provider(self) -> pd.DataFrame:
        return pd.DataFrame(self.raw["by_provider"], columns=["arm", "provider", "tasks", "completed", "failed",
                                                              "success_rate", "latency_p50_s"])

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm, with its comparison with the baseline joined on."""
        comp = self.comparisons.drop(columns=["baseline"], errors="ignore")
        return self.frame.join(comp, how="left")

    def _repr_html_(self) -> str:
        exp = self.raw["experiment"]
        return (f"<b>{exp['name']}</b> ({exp['task_type']}, {exp['status']}), {self.raw['tasks']} tasks, "
                f"baseline <code>{self.raw['baseline']}</code>{self.frame.to_html()}"
                f"<h4>Against the baseline (95 % intervals)</h4>{self.comparisons.to_html()}")


class ExperimentHandle:
    """One of your experiments, by id: its record, its report, stopping it."""

    def __init__(self, client: Client, experiment_id: str) -> None:
        self._client = client
        self.id = experiment_id

    def info(self) -> dict[str, Any]:
        """The stored experiment (arms, filters, ``status``: ``running`` or ``stopped``)."""
        return self._client.service.experiments.get(self.id, self._client.user_id)

    @property
    def status(self) -> str:
        return str(self.info()["status"])

    def report(self) -> ExperimentReport:
        return ExperimentReport(self._client.service.experiments.report(self.id, self._client.user_id))

    def stop(self) -> dict[str, Any]:
        """New tasks no longer join it (those in it keep their arm)."""
        return self._client.service.experiments.stop(self.id, self._client.user_id)

    def __repr__(self) -> str:
        return f"ExperimentHandle({self.id!r})"


class Experiments(ClientNamespace):
    """``client.experiments``: start provider A/B experiments and find them again;
    ``client.experiments()`` lists them."""

    def __call__(self, limit: int = 100) -> pd.DataFrame:
        return self.list(limit)

    def list(self, limit: int = 100) -> pd.DataFrame:
        """Your experiments, newest first."""
        return experiments_frame(self._client.service.experiments.list(self._user, limit))

    def create(self, **spec: Any) -> ExperimentHandle:
        """Start one: ``name=``, ``task_type=``, ``arms=[{"provider": ..., "weight": ...}, ...]``
        (``ExperimentSpec``; ``InvalidRequest`` naming the field). The SDK may use ``user_id=`` or
        ``all_users=True`` (the HTTP API needs an admin token)."""
        created = self._client.service.experiments.create(spec, self._user, admin=True)
        return ExperimentHandle(self._client, created["id"])

    def get(self, experiment_id: str) -> ExperimentHandle:
        """One of your experiments; ``ExperimentNotFound`` otherwise."""
        self._client.service.experiments.get(experiment_id, self._user)
        return ExperimentHandle(self._client, experiment_id)


def experiments_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``client.experiments()``: one row per experiment, newest first."""
    cols = ["id", "name", "task_type", "status", "arms", "baseline", "user_id", "metadata", "created_at",
            "stopped_at"]
    df = pd.DataFrame(rows, columns=cols)
    df["arms"] = df["arms"].map(lambda arms: ", ".join(f"{a['name']}={a['weight']:g}" for a in arms))
    return df.set_index("id")


def _frame(rows: list[dict[str, Any]], index: str, *intervals: str) -> pd.DataFrame:
    """``rows`` indexed by ``index``, each ``[low, high]`` interval column split in two."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for col in intervals:
        df[f"{col}_low"] = df[col].map(lambda v: v[0] if v else None)
        df[f"{col}_high"] = df[col].map(lambda v: v[1] if v else None)
        df = df.drop(columns=[col])
    return df.set_index(index)


__all__ = ["ExperimentHandle", "ExperimentReport", "Experiments", "experiments_frame"]
