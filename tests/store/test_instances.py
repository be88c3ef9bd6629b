"""Two instances on one database (SQLite and PostgreSQL), query by query: each claims, recovers,
reads, lists and counts only its own tasks, pipelines, batches, experiments and webhook deliveries
(schedules: tests/schedules/test_schedule_store.py; experiments: tests/experiments/test_exp_store.py),
and rows stored before migration ``0011_instance`` belong to the ``default`` instance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from videoai_ray.models.record import row_from_submission
from videoai_ray.pipelines import rows as pipes
from videoai_ray.store import TaskStore
from videoai_ray.store.batches import batch_rows, open_batch
from videoai_ray.webhooks import delivery_status, list_deliveries, redeliver, statistics
from videoai_ray.webhooks.outbox import WebhookEvent, outbox_rows
from videoai_ray.webhooks.repo import claim_due, next_due_at
from videoai_ray.webhooks.schema import webhook_deliveries


@pytest.fixture
def two(any_store: TaskStore) -> Iterator[tuple[TaskStore, TaskStore]]:
    """Instance ``a`` and instance ``b`` on one migrated database."""
    a = TaskStore(any_store.url, instance="a", migrate=False)
    b = TaskStore(any_store.url, instance="b", migrate=False)
    yield a, b
    a.close()
    b.close()


def task(tid: str, *, user: str = "ana", status: str = "pending", cost: float | None = None,
         **kw: Any) -> dict[str, Any]:
    item = {"id": tid, "type": "image_generation", "user_id": user, "priority": "medium",
            "input": {"prompt": tid}, "options": {}, "metadata": {}, "max_retries": 3, **kw}
    return {**row_from_submission(item, datetime.now(UTC)), "status": status, "cost": cost}


def test_tasks_are_recovered_read_listed_and_counted_by_their_own_instance(two: tuple[TaskStore, TaskStore]) -> None:
    a, b = two
    a.insert_many([task("t_a1", batch_id="ba"), task("t_a2", status="processing", batch_id="ba"),
                   task("t_a3", status="completed", idempotency_key="k", cost=0.5)])
    b.insert_many([task("t_b1", batch_id="bb"), task("t_b2", status="completed", idempotency_key="k", cost=2.0)])
    # recovery at start: only the instance's own unfinished tasks
    assert [t.id for t in a.unfinished()] == ["t_a1", "t_a2"]
    assert [t.id for t in b.unfinished()] == ["t_b1"]
    # gets (a manual retry or cancel reads the task first): another instance's task is unknown
    assert a.get("t_b1") is None and b.get("t_a1") is None and a.get("t_a1") is not None
    assert [t.id for t in a.get_many(["t_a1", "t_b1", "t_a3"])] == ["t_a1", "t_a3"]
    # lists, counts and the statistics' aggregate
    assert {t.id for t in a.list(user_id="ana")} == {"t_a1", "t_a2", "t_a3"}
    assert {t.id for t in b.list()} == {"t_b1", "t_b2"}
    assert a.status_counts() == {"pending": 1, "processing": 1, "completed": 1}
    assert sum(g["count"] for g in b.aggregate()) == 2
    assert sum(g["cost"] or 0 for g in b.aggregate()) == pytest.approx(2.0)
    # a batch's tasks, followed by its instance
    assert sorted(a.batch_states("ba", ["pending", "processing"])) == [("t_a1", "pending", None),
                                                                       ("t_a2", "processing", None)]
    assert b.batch_states("ba", ["pending", "processing"]) == []
    a.update_many([{"id": "t_a1", "status": "completed", "finish_seq": 7}])
    assert a.finished_since("ba", 0) == [("t_a1", "completed", 7)] and b.finished_since("ba", 0) == []
    # idempotency keys are per instance: the same user and key on both, each replays its own
    assert a.find_idempotent("ana", ["k"]) == {"k": "t_a3"} and b.find_idempotent("ana", ["k"]) == {"k": "t_b2"}


def test_the_rows_a_store_inserts_carry_its_instance(two: tuple[TaskStore, TaskStore]) -> None:
    a, _ = two
    a.insert_many([task("t_a1")])
    with a.engine.connect() as conn:
        assert conn.execute(text("SELECT instance FROM tasks WHERE id = 't_a1'")).scalar() == "a"


def pipeline(pid: str, *, status: str = "running", key: str | None = None) -> dict[str, Any]:
    return {"id": pid, "user_id": "ana", "status": status, "spec": {"steps": []}, "priority": "medium",
            "meta": {}, "idempotency_key": key, "request_hash": None, "created_at": datetime.now(UTC)}


def test_pipelines_are_advanced_read_and_listed_by_their_own_instance(two: tuple[TaskStore, TaskStore]) -> None:
    a, b = two
    pipes.insert_pipeline(a.engine, pipeline("pipe_a1", key="k"), instance="a")
    pipes.insert_pipeline(a.engine, pipeline("pipe_a2", status="completed"), instance="a")
    pipes.insert_pipeline(b.engine, pipeline("pipe_b1", key="k"), instance="b")
    # the pipeline runner's recovery: only the instance's own running pipelines
    assert pipes.running_ids(a.engine, instance="a") == ["pipe_a1"]
    assert pipes.running_ids(b.engine, instance="b") == ["pipe_b1"]
    assert pipes.get_pipeline(a.engine, "pipe_b1", instance="a") is None
    assert pipes.get_pipeline(b.engine, "pipe_b1", "ana", instance="b") is not None
    assert pipes.find_idempotent(a.engine, "ana", "k", instance="a") == ("pipe_a1", None)
    assert pipes.find_idempotent(b.engine, "ana", "k", instance="b") == ("pipe_b1", None)
    assert [p["id"] for p in pipes.list_pipelines(b.engine, "ana", instance="b")] == ["pipe_b1"]
    assert pipes.pipeline_counts(a.engine, instance="a")["by_status"] == {"running": 1, "completed": 1}
    assert pipes.pipeline_counts(b.engine, "ana", instance="b")["total"] == 1


def test_batches_are_listed_by_their_own_instance(two: tuple[TaskStore, TaskStore]) -> None:
    a, b = two
    open_batch(a.engine, "batch_a", "ana", 1, instance="a")
    open_batch(b.engine, "batch_b", "ana", 1, instance="b")
    a.insert_many([task("t_a1", batch_id="batch_a")])
    assert [r["id"] for r in batch_rows(a.engine, "ana", instance="a")] == ["batch_a"]
    assert [r["id"] for r in batch_rows(b.engine, None, instance="b")] == ["batch_b"]
    assert batch_rows(b.engine, None, "batch_a", instance="b") == []
    assert batch_rows(a.engine, None, "batch_a", instance="a")[0]["submitted"] == 1


def _events(store: TaskStore, task_id: str) -> list[dict[str, Any]]:
    from videoai_ray.models import EventType

    ev = WebhookEvent(task_id=task_id, user_id="ana", url="https://hooks.example/x",
                      event_type=EventType.COMPLETED, payload={"task_id": task_id})
    rows = outbox_rows([ev], datetime.now(UTC) - timedelta(seconds=1), store.instance)
    store.update_many([], [(webhook_deliveries, rows)])
    return rows


def test_webhook_deliveries_are_sent_and_shown_by_their_own_instance(two: tuple[TaskStore, TaskStore]) -> None:
    a, b = two
    [mine] = _events(a, "t_a1")
    [theirs] = _events(b, "t_b1")
    now = datetime.now(UTC)
    # each instance's dispatcher claims only its own deliveries
    assert [d.id for d in claim_due(a.engine, now, (), 10, instance="a")] == [mine["id"]]
    assert [d.id for d in claim_due(b.engine, now, (), 10, instance="b")] == [theirs["id"]]
    assert next_due_at(a.engine, {"t_a1"}, instance="a") is None  # b's due row is not a's
    assert list_deliveries(a.engine, "ana", instance="a")[0]["webhook_id"] == mine["id"]
    assert len(list_deliveries(a.engine, "ana", instance="a")) == 1
    assert statistics(b.engine, instance="b")["pending"] == 1
    assert delivery_status(a.engine, theirs["id"], "ana", instance="a") is None
    assert redeliver(a.engine, theirs["id"], "ana", instance="a") is None


def test_rows_stored_before_the_migration_belong_to_the_default_instance(any_store: TaskStore) -> None:
    from alembic import command

    from videoai_ray.store.migrate import alembic_config, upgrade

    cfg = alembic_config()
    with any_store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    with any_store.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO tasks (id, type, status, priority, user_id, input, attempts, max_retries, progress, "
            "created_at, meta, options, cache_hit) VALUES ('t_old', 'image_generation', 'pending', 'medium', "
            "'ana', '{}', 0, 3, 0, '2026-01-01 00:00:00', '{}', '{}', false)"))
    upgrade(any_store.engine)
    other = TaskStore(any_store.url, instance="other", migrate=False)
    try:
        assert [t.id for t in any_store.unfinished()] == ["t_old"]  # any_store serves ``default``
        assert other.unfinished() == []
    finally:
        other.close()
