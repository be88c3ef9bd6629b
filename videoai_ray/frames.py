"""Tidy pandas frames for notebooks: proper dtypes (UTC timestamps, durations as timedeltas,
categories for the small vocabularies, nullable numbers) so they plot and group without cleaning.

Every function returns the same columns and dtypes whether it gets rows or none, so code written
against an empty result (a fresh deployment) keeps working once tasks exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .models import Priority, Task, TaskStatus, TaskType

TASK_TYPES = [t.value for t in TaskType]
STATUSES = [s.value for s in TaskStatus]
#: low < medium < high < urgent, as an ordered categorical (sorts and compares by rank)
PRIORITIES = [p.value for p in sorted(Priority, key=lambda p: p.rank)]
#: provider health, best first
HEALTH = ["healthy", "degraded", "open_circuit", "unavailable"]

_TASK_COLUMNS = ["id", "type", "status", "priority", "provider", "progress", "attempts", "cost", "cache_hit",
                 "created_at", "started_at", "finished_at", "duration", "wait", "error_code", "error_message",
                 "batch_id", "user_id", "node_ip", "node_id", "gpu_ids"]
_BATCH_COLUMNS = ["expected", "submitted", "missing", "created_at", "sealed_at", "cost_usd", "budget_usd", *STATUSES]
_STAT_COLUMNS = {"tasks": "int64", "completed": "int64", "failed": "int64", "cancelled": "int64",
                 "active": "int64", "success_rate": "float64", "mean_duration": "timedelta64[ns]",
                 "cost": "float64"}


def _cat(values: Any, categories: Iterable[str], ordered: bool = False) -> pd.Categorical:
    return pd.Categorical(values, categories=list(categories), ordered=ordered)


def _node_columns(node: Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """``node_ip``, ``node_id`` and ``gpu_ids`` (comma-separated) of where the last attempt ran."""
    if not node:
        return None, None, None
    gpus = node.get("gpu_ids")
    return node.get("ip"), node.get("node_id"), ",".join(gpus) if gpus else None


def tasks_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """One row per task. ``duration`` is start to end (``NaT`` until finished), ``wait`` is
    creation to first start (time spent queued); ``node_ip``/``node_id``/``gpu_ids``: where the
    last attempt ran; ``type``/``status``/``priority`` are categoricals
    holding every possible value, so ``value_counts()`` lists zeros too."""
    rows: list[tuple[Any, ...]] = [
        (t.id, t.type.value, t.status.value, t.priority.value, t.provider, t.progress, t.attempts, t.cost,
         t.cache_hit, t.created_at, t.started_at, t.finished_at, t.error.code if t.error else None,
         t.error.message if t.error else None, t.batch_id, t.user_id, *_node_columns(t.node))
        for t in tasks
    ]
    cols = [c for c in _TASK_COLUMNS if c not in ("duration", "wait")]
    df = pd.DataFrame.from_records(rows, columns=cols)
    for col in ("created_at", "started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ns, UTC]")
    df["duration"] = df["finished_at"] - df["started_at"]
    df["wait"] = df["started_at"] - df["created_at"]
    df["id"] = df["id"].astype("string")
    df["error_message"] = df["error_message"].astype("string")
    df["type"] = _cat(df["type"], TASK_TYPES)
    df["status"] = _cat(df["status"], STATUSES)
    df["priority"] = _cat(df["priority"], PRIORITIES, ordered=True)
    df["gpu_ids"] = df["gpu_ids"].astype("string")
    for col in ("provider", "error_code", "batch_id", "user_id", "node_ip", "node_id"):
        df[col] = df[col].astype("object").astype("category")
    df["cost"] = pd.to_numeric(df["cost"], errors="coerce").astype("float64")
    df["attempts"] = df["attempts"].astype("int64")
    df["progress"] = df["progress"].astype("float64")
    df["cache_hit"] = df["cache_hit"].astype("bool")
    return df[_TASK_COLUMNS]


def table_frame(rows: Mapping[str, Mapping[str, Any]], index_name: str) -> pd.DataFrame:
    """A ``{key: {column: value}}`` statistics table (by type, by provider) as a frame:
    counts as integers, ``success_rate`` as a float (NaN when nothing finished yet),
    ``mean_duration`` as a timedelta, ``cost`` in USD."""
    df = pd.DataFrame.from_dict(dict(rows), orient="index")
    if "mean_duration_s" in df:
        df["mean_duration"] = pd.to_timedelta(pd.to_numeric(df.pop("mean_duration_s")), unit="s")
    for col, dtype in _STAT_COLUMNS.items():
        if col not in df:
            df[col] = pd.Series(dtype=dtype)
        elif dtype == "float64":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        else:
            df[col] = df[col].astype(dtype)
    df = df[list(_STAT_COLUMNS) + [c for c in df.columns if c not in _STAT_COLUMNS]]
    df.index = pd.Index([str(i) for i in df.index], name=index_name, dtype="object")
    return df.sort_index()


def queue_series(depth: Mapping[str, int]) -> pd.Series:
    """Tasks waiting per priority, indexed low → urgent (every priority present, zero if empty)."""
    index = pd.CategoricalIndex(PRIORITIES, categories=PRIORITIES, ordered=True, name="priority")
    return pd.Series([int(depth.get(p, 0)) for p in PRIORITIES], index=index, name="waiting", dtype="int64")


_PROVIDER_DTYPES = {"quality": "float64", "max_concurrency": "int64", "cpu_bound": "bool", "translates": "bool",
                    "available": "bool", "in_flight": "int64", "successes": "int64", "failures": "int64",
                    "success_rate": "float64", "total_cost": "float64",
                    # the rate limiter: declared and allowed rates (NaN: none declared), 429s seen,
                    # attempts waiting now / that waited, and for how long in all
                    "rate_limit_rpm": "float64", "rate_limit_tokens_pm": "float64",
                    "rate_limit_media_seconds_pm": "float64", "rate_allowed_rpm": "float64",
                    "rate_paused_s": "float64", "rate_limited": "int64", "throttled_now": "int64",
                    "throttled": "int64", "throttled_seconds": "float64"}
_PROVIDER_TEXT = ("description", "unavailable_reason", "last_error", "rate_limit_source", "rate_group")


def providers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per registered provider, indexed by name: what it serves, whether it is usable
    (``health`` is an ordered categorical, healthy first) and its live numbers (``latency`` is
    the moving average of successful attempts, as a timedelta)."""
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["name", "task_types", "health", "latency_s", *_PROVIDER_TEXT, *_PROVIDER_DTYPES])
    df = df.set_index("name")
    df.index = df.index.astype("object")
    df["health"] = _cat(df["health"], HEALTH, ordered=True)
    for col, dtype in _PROVIDER_DTYPES.items():
        if col in df:
            df[col] = (pd.to_numeric(df[col], errors="coerce") if dtype == "float64" else df[col]).astype(dtype)
    for col in _PROVIDER_TEXT:
        if col in df:
            df[col] = df[col].astype("object").astype("string")
    if "latency_s" in df:
        secs = pd.to_numeric(df.pop("latency_s"), errors="coerce").astype("float64")
        df["latency"] = pd.to_timedelta(secs, unit="s").astype("timedelta64[ns]")
    return df


def batches_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per batch (index ``id``): items ``expected`` and ``submitted``, ``missing`` (a batch
    with ``missing`` > 0 and no ``sealed_at`` was cut short, unless its driver is still sending;
    ``expected`` and ``missing`` are ``<NA>`` while a generator of unknown size is being sent),
    ``cost_usd`` spent so far, ``budget_usd``, and the count of its tasks per status."""
    records = [{"id": r["id"], "expected": r["expected"], "submitted": r["submitted"], "missing": r["missing"],
                "created_at": r["created_at"], "sealed_at": r["sealed_at"], "cost_usd": r["cost_usd"],
                "budget_usd": r["budget_usd"], **{st: r["counts"].get(st, 0) for st in STATUSES}} for r in rows]
    df = pd.DataFrame.from_records(records, columns=["id", *_BATCH_COLUMNS]).set_index("id")
    for col in ("created_at", "sealed_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ns, UTC]")
    for col in ("expected", "missing"):
        df[col] = df[col].astype("Int64")
    for col in ("submitted", *STATUSES):
        df[col] = df[col].astype("int64")
    for col in ("cost_usd", "budget_usd"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def spend_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Spend per UTC day and provider (``day`` a date, newest first), with the tasks that cost it."""
    df = pd.DataFrame.from_records(list(rows), columns=["day", "provider", "tasks", "cost_usd"])
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    df["provider"] = df["provider"].astype("object").astype("category")
    df["tasks"] = df["tasks"].astype("int64")
    df["cost_usd"] = pd.to_numeric(df["cost_usd"], errors="coerce").astype("float64")
    return df
