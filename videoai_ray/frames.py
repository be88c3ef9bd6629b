"""Tidy pandas frames for notebooks: proper dtypes (UTC timestamps, durations as timedeltas,
categories for the small vocabularies) so they plot and group without cleaning."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .models import Priority, Task, TaskStatus, TaskType

_TASK_COLUMNS = ["id", "type", "status", "priority", "provider", "progress", "attempts", "cost", "cache_hit",
                 "created_at", "started_at", "finished_at", "duration", "wait", "error_code", "batch_id",
                 "user_id"]


def _cat(values: pd.Series, categories: Iterable[str], ordered: bool = False) -> pd.Series:
    return pd.Categorical(values, categories=list(categories), ordered=ordered)


def tasks_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for t in tasks:
        rows.append({
            "id": t.id, "type": t.type.value, "status": t.status.value, "priority": t.priority.value,
            "provider": t.provider, "progress": t.progress, "attempts": t.attempts, "cost": t.cost,
            "cache_hit": t.cache_hit, "created_at": t.created_at, "started_at": t.started_at,
            "finished_at": t.finished_at, "error_code": t.error.code if t.error else None,
            "batch_id": t.batch_id, "user_id": t.user_id,
        })
    df = pd.DataFrame(rows, columns=[c for c in _TASK_COLUMNS if c not in ("duration", "wait")])
    for col in ("created_at", "started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    df["duration"] = df["finished_at"] - df["started_at"]
    df["wait"] = df["started_at"] - df["created_at"]
    df["type"] = _cat(df["type"], (t.value for t in TaskType))
    df["status"] = _cat(df["status"], (s.value for s in TaskStatus))
    df["priority"] = _cat(df["priority"], (p.value for p in sorted(Priority, key=lambda p: p.rank)), ordered=True)
    df["provider"] = df["provider"].astype("category")
    df["cost"] = df["cost"].astype("float64")
    df["attempts"] = df["attempts"].astype("int64")
    df["progress"] = df["progress"].astype("float64")
    df["cache_hit"] = df["cache_hit"].astype("bool")
    return df[_TASK_COLUMNS]


def table_frame(rows: dict[str, dict[str, Any]], index_name: str) -> pd.DataFrame:
    """A ``{key: {column: value}}`` table (statistics by type / by provider) as a frame."""
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = index_name
    if "mean_duration_s" in df:
        df["mean_duration"] = pd.to_timedelta(df.pop("mean_duration_s"), unit="s")
    return df


def providers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.set_index("name")
    df["health"] = df["health"].astype("category")
    if "latency_s" in df:
        df["latency"] = pd.to_timedelta(df.pop("latency_s"), unit="s")
    return df
