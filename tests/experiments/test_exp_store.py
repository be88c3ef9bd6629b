"""Experiments in the store, on SQLite and PostgreSQL (migration 0010): rows round-trip, each
owner sees only their own, running ones come oldest first, stop is idempotent, and a report
reads its tasks' arms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from videoai_ray.experiments import ArmSpec, Experiment, build_report
from videoai_ray.models import TaskType
from videoai_ray.store import TaskStore
from videoai_ray.store.experiments import (
    experiment_task_rows,
    get_experiment,
    insert_experiment,
    list_experiments,
    running_experiments,
    stop_experiment,
)


def make(owner: str, age: float, **kw: object) -> Experiment:
    fields: dict[str, object] = {
        "id": "exp_" + uuid.uuid4().hex, "owner_id": owner, "name": "e", "task_type": TaskType.IMAGE_GENERATION,
        "arms": [ArmSpec(provider="fast", weight=1), ArmSpec(provider="half", weight=2.5, name="h")],
        "baseline": "fast", "user_id": owner, "metadata": {"campaign": "spring", "n": 3},
        "created_at": datetime.now(UTC) - timedelta(seconds=age), **kw}
    return Experiment.model_validate(fields)


def test_experiment_rows(any_store: TaskStore) -> None:
    engine = any_store.engine
    old, new, other = make("alice", 20), make("alice", 10, user_id=None, metadata=None), make("bob", 30)
    for e in (old, new, other):
        insert_experiment(engine, e, instance="i1")
    assert get_experiment(engine, old.id, "alice", instance="i1") == old
    assert get_experiment(engine, old.id, "bob", instance="i1") is None
    assert [e.id for e in list_experiments(engine, "alice", instance="i1")] == [new.id, old.id]
    assert [e.id for e in running_experiments(engine, instance="i1")] == [other.id, old.id, new.id]
    assert stop_experiment(engine, old.id, "alice", instance="i1")
    stopped = get_experiment(engine, old.id, "alice", instance="i1")
    assert stopped is not None and stopped.stopped_at is not None
    assert stop_experiment(engine, old.id, "alice", instance="i1")
    assert get_experiment(engine, old.id, "alice", instance="i1") == stopped  # the first stop time stays
    assert not stop_experiment(engine, old.id, "bob", instance="i1")
    assert not stop_experiment(engine, "exp_nope", "alice", instance="i1")
    assert [e.id for e in running_experiments(engine, instance="i1")] == [other.id, new.id]


def test_an_instance_sees_and_stops_only_its_own_experiments(any_store: TaskStore) -> None:
    # instances sharing one database: another instance's running experiment never splits this
    # one's tasks, and is not listed, read or stopped here
    engine = any_store.engine
    mine, theirs = make("alice", 20), make("alice", 10)
    insert_experiment(engine, mine, instance="i1")
    insert_experiment(engine, theirs, instance="i2")
    assert [e.id for e in running_experiments(engine, instance="i1")] == [mine.id]
    assert [e.id for e in list_experiments(engine, "alice", instance="i2")] == [theirs.id]
    assert get_experiment(engine, theirs.id, "alice", instance="i1") is None
    assert not stop_experiment(engine, theirs.id, "alice", instance="i1")
    assert [e.id for e in running_experiments(engine, instance="i2")] == [theirs.id]


def test_report_reads_the_arms_of_its_tasks(any_store: TaskStore) -> None:
    exp = make("alice", 0)
    insert_experiment(any_store.engine, exp, instance=any_store.instance)
    t0 = datetime.now(UTC)
    rows = []
    for arm, status, cost, secs, hit in [
        ("fast", "completed", 0.01, 1.0, False), ("fast", "completed", 0.01, 3.0, False),
        ("fast", "completed", None, None, True), ("h", "failed", None, 2.0, False),
        ("h", "completed", 0.02, 2.0, False), ("h", "processing", None, None, False),
        ("h", "cancelled", None, None, False),
    ]:
        rows.append({"id": f"task_{uuid.uuid4().hex}", "type": "image_generation", "status": status,
                     "priority": "medium", "user_id": "alice", "input": {}, "meta": {}, "options": {},
                     "attempts": 1, "max_retries": 1,
                     "progress": 0.0, "created_at": t0, "cost": cost, "cache_hit": hit,
                     "provider": "half" if arm == "h" else "fast", "started_at": t0 if secs else None,
                     "finished_at": t0 + timedelta(seconds=secs) if secs else None,
                     "experiment_id": exp.id, "experiment_arm": arm})
    any_store.insert_many(rows)
    report = build_report(exp, experiment_task_rows(any_store.engine, exp.id))
    fast, half = report["arms"]
    assert (fast["tasks"], fast["completed"], fast["cache_hits"], fast["success_rate"]) == (3, 2, 1, 1.0)
    assert fast["latency_p50_s"] == 2.0 and fast["cost_per_task_usd"] == 0.01
    assert (half["tasks"], half["completed"], half["failed"], half["running"], half["cancelled"]) == (4, 1, 1, 1, 1)
    assert half["success_rate"] == 0.5 and half["cost_per_task_usd"] == round(0.02 / 3, 6)
    [comp] = report["comparisons"]
    assert comp["arm"] == "h" and comp["success_rate_diff"] == -0.5
    assert comp["latency_p50_diff_s"] == 0.0  # 2.0 (one completed) minus 2.0 (median of 1 and 3)
    assert any_store.get(rows[0]["id"]).experiment_arm == "fast"  # type: ignore[union-attr]


def test_concurrent_inserts_of_one_owner_stop_at_the_cap(any_store: TaskStore) -> None:
    """The count and the insert are one step per owner (a lock on PostgreSQL, the write lock
    on SQLite): eight at once with room for three store exactly three."""
    from concurrent.futures import ThreadPoolExecutor

    engine = any_store.engine
    stopped = make("dora", 50)
    insert_experiment(engine, stopped, instance="i1")
    stop_experiment(engine, stopped.id, "dora", instance="i1")  # stopped: not counted
    insert_experiment(engine, make("erin", 50), instance="i1")  # another owner's
    with ThreadPoolExecutor(8) as pool:
        refused = list(pool.map(lambda _: insert_experiment(engine, make("dora", 1), 3, instance="i1"), range(8)))
    assert sorted(refused, key=str) == [3, 3, 3, 3, 3, None, None, None]
    assert len([e for e in running_experiments(engine, instance="i1") if e.owner_id == "dora"]) == 3
    assert len(list_experiments(engine, "dora", instance="i1")) == 4
