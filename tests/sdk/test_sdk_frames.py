"""Frames: the same columns and dtypes with rows or without, from unit data and from a live engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from videoai_ray.frames import (
    HEALTH,
    PRIORITIES,
    providers_frame,
    queue_series,
    table_frame,
    tasks_frame,
)
from videoai_ray.models import Task, TaskError

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
EXPECTED = {
    "id": "string", "type": "category", "status": "category", "priority": "category", "provider": "category",
    "progress": "float64", "attempts": "int64", "cost": "float64", "cache_hit": "bool",
    "created_at": "datetime64[ns, UTC]", "started_at": "datetime64[ns, UTC]", "finished_at": "datetime64[ns, UTC]",
    "duration": "timedelta64[ns]", "wait": "timedelta64[ns]", "error_code": "category", "error_message": "string",
    "batch_id": "category", "user_id": "category", "node_ip": "category", "node_id": "category",
    "gpu_ids": "string",
}


def _task(i: int, **kw) -> Task:
    base = dict(id=f"task_{i}", type="image_generation", status="completed", priority="high", user_id="ana",
                input={}, created_at=NOW, started_at=NOW + timedelta(seconds=1),
                finished_at=NOW + timedelta(seconds=3), provider="p1", cost=0.04, batch_id="b1", attempts=1)
    return Task(**{**base, **kw})


def _dtypes(df: pd.DataFrame) -> dict[str, str]:
    return {c: str(t) for c, t in df.dtypes.items()}


def test_tasks_frame_dtypes_and_derived_columns() -> None:
    failed = _task(2, type="subtitle_generation", status="failed", priority="low", started_at=None,
                   finished_at=NOW, cost=None, provider=None, error=TaskError(code="invalid_input", message="bad"))
    df = tasks_frame([_task(1), failed])
    assert _dtypes(df) == EXPECTED
    assert df.loc[0, "duration"] == pd.Timedelta(seconds=2) and df.loc[0, "wait"] == pd.Timedelta(seconds=1)
    assert pd.isna(df.loc[1, "duration"]) and pd.isna(df.loc[1, "cost"]) and df.loc[1, "error_code"] == "invalid_input"
    assert str(df.loc[0, "created_at"].tz) == "UTC"
    # categoricals hold every value, priorities ordered low < urgent
    assert list(df["priority"].cat.categories) == PRIORITIES and df["priority"].cat.ordered
    assert df["priority"].min() == "low"
    assert df["status"].value_counts()["cancelled"] == 0
    assert len(df["type"].cat.categories) == 4
    assert pd.isna(df.loc[1, "node_ip"]) and pd.isna(df.loc[1, "gpu_ids"])


def test_tasks_frame_says_where_the_last_attempt_ran() -> None:
    node = {"node_id": "ab12", "ip": "10.0.0.7", "gpu_ids": ["0", "3"]}
    df = tasks_frame([_task(1, node=node), _task(2, node={"node_id": "cd34", "ip": "10.0.0.8"})])
    assert list(df["node_ip"]) == ["10.0.0.7", "10.0.0.8"] and list(df["node_id"]) == ["ab12", "cd34"]
    assert df.loc[0, "gpu_ids"] == "0,3" and pd.isna(df.loc[1, "gpu_ids"])


def test_empty_tasks_frame_has_the_same_schema() -> None:
    df = tasks_frame([])
    assert df.empty and _dtypes(df) == EXPECTED


def test_statistics_tables() -> None:
    rows = {
        "image_generation": {"tasks": 3, "completed": 2, "failed": 1, "cancelled": 0, "active": 0, "cost": 0.08,
                             "mean_duration_s": 1.5, "success_rate": 2 / 3},
        "video_generation": {"tasks": 1, "completed": 0, "failed": 0, "cancelled": 0, "active": 1, "cost": 0.0,
                             "mean_duration_s": None, "success_rate": None},
    }
    df = table_frame(rows, "type")
    assert df.index.name == "type" and list(df.index) == ["image_generation", "video_generation"]
    assert str(df["mean_duration"].dtype) == "timedelta64[ns]" and df.loc["image_generation", "mean_duration"] == \
        pd.Timedelta(seconds=1.5)
    assert pd.isna(df.loc["video_generation", "success_rate"]) and df["tasks"].dtype == "int64"
    empty = table_frame({}, "provider")
    assert empty.empty and _dtypes(empty) == _dtypes(df) and empty.index.name == "provider"


def test_queue_series_lists_every_priority_in_order() -> None:
    q = queue_series({"urgent": 2, "low": 5})
    assert list(q.index) == PRIORITIES and q.tolist() == [5, 0, 0, 2] and q.dtype == "int64"
    assert q.name == "waiting" and q.index.name == "priority"


def test_providers_frame() -> None:
    row = {"name": "x", "task_types": ["image_generation"], "description": "d", "quality": 0.3,
           "max_concurrency": 2, "cpu_bound": False, "translates": False, "available": True,
           "unavailable_reason": None, "health": "degraded", "in_flight": 1, "successes": 3, "failures": 1,
           "success_rate": 0.75, "latency_s": 0.25, "total_cost": 0.5, "last_error": "boom"}
    df = providers_frame([row, {**row, "name": "y", "health": "healthy", "latency_s": None, "success_rate": None}])
    assert list(df["health"].cat.categories) == HEALTH and df["health"].cat.ordered
    assert df.sort_values("health").index.tolist() == ["y", "x"]
    assert df.loc["x", "latency"] == pd.Timedelta(milliseconds=250) and pd.isna(df.loc["y", "latency"])
    assert str(df["latency"].dtype) == "timedelta64[ns]" and df["in_flight"].dtype == "int64"
    empty = providers_frame([])
    assert empty.empty and "health" in empty and "latency" in empty and empty.index.name == "name"


def test_providers_frame_shows_the_rate_limiter() -> None:
    base = {"name": "x", "task_types": ["video_generation"], "health": "healthy", "latency_s": None}
    limited = {**base, "rate_limit_rpm": 300.0, "rate_limit_tokens_pm": None, "rate_limit_media_seconds_pm": None,
               "rate_allowed_rpm": 150.0, "rate_limit_source": "docs", "rate_paused_s": 2.5, "rate_limited": 1,
               "throttled_now": 3, "throttled": 12, "throttled_seconds": 4.5, "rate_group": "acct"}
    free = {**limited, "name": "y", "rate_limit_rpm": None, "rate_allowed_rpm": None, "rate_limit_source": None,
            "rate_paused_s": 0.0, "rate_limited": 0, "throttled_now": 0, "throttled": 0, "throttled_seconds": 0.0,
            "rate_group": "y"}
    df = providers_frame([limited, free])
    assert df.loc["x", "rate_allowed_rpm"] == 150.0 and pd.isna(df.loc["y", "rate_limit_rpm"])
    assert df["throttled"].dtype == "int64" and df["rate_limit_rpm"].dtype == "float64"
    assert str(df["rate_group"].dtype) == "string" and df.loc["x", "rate_group"] == "acct"


def test_frames_from_a_live_engine(sdk_client) -> None:
    batch = sdk_client.batch([{"task_type": "subtitle_generation",
                               "input_data": {"text": f"frame {i}", "provider": "lat" if i % 2 else "noop",
                                              "use_cache": False},
                               "priority": PRIORITIES[i % 4]} for i in range(8)])
    bad = sdk_client.images.generate(prompt="x", provider="perm", use_cache=False)
    assert batch.wait(timeout=60) == {"completed": 8}
    bad.wait(timeout=30)
    df = batch.to_pandas()
    assert _dtypes(df) == EXPECTED and len(df) == 8 and df["duration"].notna().all()
    assert set(df["provider"].astype(str)) == {"lat", "noop"} and df.groupby("provider", observed=True)["cost"].sum()[
        "lat"] > 0
    recent = sdk_client.tasks(limit=5)
    assert _dtypes(recent) == EXPECTED and recent.loc[0, "error_code"] == "invalid_input"
    stats = sdk_client.statistics()
    assert stats.by_provider.loc["lat", "cost"] > 0 and stats.by_provider.loc["perm", "success_rate"] == 0.0
    assert str(stats.by_type["mean_duration"].dtype) == "timedelta64[ns]"
    assert 0 < stats.success_rate < 1
    providers = sdk_client.providers()
    assert set(providers.index) == {"noop", "lat", "perm"} and str(providers["health"].dtype) == "category"
