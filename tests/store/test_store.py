from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from videoai_ray.models.record import active_from_task, row_from_submission
from videoai_ray.store.schema import tasks


@pytest.fixture
def store(any_store):
    return any_store


def item(i, user="alice", **kw):
    base = {"id": f"task_{i:04d}", "type": "image_generation", "user_id": user, "priority": "medium",
            "input": {"prompt": f"p{i}"}, "options": {}, "metadata": {"i": i}, "max_retries": 3}
    base.update(kw)
    return base


def test_insert_get_list_and_pagination(store):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(7):
        r = row_from_submission(item(i, user="alice" if i % 2 == 0 else "bob",
                      type="video_generation" if i == 3 else "image_generation"), t0 + timedelta(seconds=i))
        rows.append(r)
    store.insert_many(rows)
    t = store.get("task_0002")
    assert t.input == {"prompt": "p2"} and t.metadata == {"i": 2} and t.created_at.tzinfo is not None
    assert store.get("task_0001", user_id="alice") is None  # bob's task, invisible to alice
    assert [x.id for x in store.list(user_id="bob")] == ["task_0005", "task_0003", "task_0001"]
    assert [x.id for x in store.list(task_type="video_generation")] == ["task_0003"]
    page1 = store.list(user_id="alice", limit=2)
    page2 = store.list(user_id="alice", limit=2, before=(page1[-1].created_at, page1[-1].id))
    assert [x.id for x in page1 + page2] == ["task_0006", "task_0004", "task_0002", "task_0000"]
    assert [x.id for x in store.get_many(["task_0004", "nope", "task_0000"])] == ["task_0004", "task_0000"]


def test_batched_updates_terminal_seq_and_aggregates(store):
    now = datetime.now(UTC)
    store.insert_many([row_from_submission(item(i, batch_id="b1"), now) for i in range(4)])
    store.update_many([
        {"id": "task_0000", "status": "completed", "finish_seq": 1, "started_at": now,
         "finished_at": now + timedelta(seconds=2), "cost": 0.5, "provider": "p1"},
        {"id": "task_0001", "status": "failed", "finish_seq": 2, "started_at": now,
         "finished_at": now + timedelta(seconds=1), "error_code": "timeout", "error_message": "slow",
         "error_retryable": True, "provider": "p1"},
        {"id": "task_0002", "status": "processing", "provider": "p2"},
    ])
    assert [t.id for t in store.unfinished()] == ["task_0002", "task_0003"]
    assert store.finished_since("b1", 0) == [("task_0000", "completed", 1), ("task_0001", "failed", 2)]
    assert store.finished_since("b1", 1) == [("task_0001", "failed", 2)]
    assert store.max_finish_seq() == 2
    assert store.status_counts(batch_id="b1") == {"completed": 1, "failed": 1, "processing": 1, "pending": 1}
    failed = store.get("task_0001")
    assert failed.error.code == "timeout" and failed.error.retryable
    agg = {(g["status"], g["provider"]): g for g in store.aggregate()}
    assert agg[("completed", "p1")]["cost"] == pytest.approx(0.5)
    assert agg[("completed", "p1")]["mean_duration_s"] == pytest.approx(2.0, abs=0.01)


def test_idempotency_keys_are_unique_per_user(store):
    now = datetime.now(UTC)
    store.insert_many([row_from_submission(item(1, idempotency_key="k"), now),
                       row_from_submission(item(2, user="bob", idempotency_key="k"), now)])
    assert store.find_idempotent("alice", ["k", "other"]) == {"k": "task_0001"}
    with pytest.raises(IntegrityError):
        store.insert_many([row_from_submission(item(3, idempotency_key="k"), now)])


def test_migrations_create_the_indexes(store):
    from sqlalchemy import inspect

    names = {ix["name"] for ix in inspect(store.engine).get_indexes("tasks")}
    assert {"ix_tasks_user_created", "ix_tasks_status", "ix_tasks_type", "ix_tasks_created",
            "ix_tasks_batch_seq"} <= names
    assert set(tasks.c.keys()) == {c["name"] for c in inspect(store.engine).get_columns("tasks")}


def test_alembic_upgrade_head_from_the_repo_root(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sqlalchemy import create_engine, inspect

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "VIDEOAI_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    alembic = Path(sys.executable).with_name("alembic")
    subprocess.run([str(alembic), "upgrade", "head"], cwd=root, env=env, check=True, capture_output=True)
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path}/videoai.db")).get_table_names())
    assert {"tasks", "webhook_deliveries", "webhook_secrets", "alembic_version"} <= tables


def test_rows_with_different_missing_values_insert_together(store):
    # inserts bind only the non-NULL values, so one chunk may need several statements
    now = datetime.now(UTC)
    rows = [row_from_submission(item(0, webhook_url="https://hooks.example/a", webhook_events=["task.completed"]), now),
            row_from_submission(item(1, idempotency_key="k1"), now), row_from_submission(item(2), now)]
    store.insert_many(rows)
    hooked, keyed, plain = store.get_many(["task_0000", "task_0001", "task_0002"])
    assert hooked.webhook_url == "https://hooks.example/a" and hooked.idempotency_key is None
    assert keyed.idempotency_key == "k1" and keyed.webhook_url is None
    assert plain.output is None and plain.error is None and plain.metadata == {"i": 2}
    assert store.find_idempotent("alice", ["k1"]) == {"k1": "task_0001"}


def test_a_task_loaded_again_keeps_its_webhook_filter_options_and_remote_job(store):
    # recovery at start and a manual retry rebuild a task's in-flight state from its row: nothing
    # the submission asked for may be lost there (a lost webhook filter sends every event)
    now = datetime.now(UTC)
    job = {"provider": "runway", "id": "job-1", "kind": "task"}
    hooked_item = item(0, webhook_url="https://hooks.example/a", webhook_events=["task.completed"],
                       options={"use_cache": False, "failed_providers": ["p1"]})
    store.insert_many([row_from_submission(hooked_item, now), row_from_submission(item(1), now)])
    store.update_many([{"id": "task_0000", "status": "processing", "remote_job": job}])
    fields = store.in_flight_fields(["task_0000", "task_0001"])
    hooked = active_from_task(store.get("task_0000"), **fields["task_0000"])
    assert hooked.webhook_events == ["task.completed"] and hooked.remote_job == job
    assert hooked.options["use_cache"] is False and hooked.excluded == {"p1"}
    plain = active_from_task(store.get("task_0001"), **fields["task_0001"])
    assert plain.webhook_events is None and plain.remote_job is None and plain.options == {}
