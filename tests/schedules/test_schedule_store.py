"""The schedules table on SQLite and on PostgreSQL: times come back aware and in UTC, the due
query compares them correctly, changes are per user, and the counts feed the statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from videoai_ray.store.schedules import (
    change_schedule,
    delete_schedule,
    due_schedules,
    earliest_due,
    get_schedule,
    insert_schedule,
    list_schedules,
    schedule_counts,
    stored_task_ids,
)


def row(sid: str, user: str, next_run_at: datetime | None, state: str = "active", instance: str = "i1") -> dict:
    now = datetime.now(UTC)
    return {"id": sid, "instance": instance, "user_id": user, "name": None, "cron": "* * * * *", "at": None,
            "timezone": "Asia/Kolkata", "target": {"task": {"task_type": "image_generation", "input_data": {}}},
            "context": {"http": False, "tenant": None}, "misfire": "run_once", "misfire_grace_seconds": 60.0,
            "state": state, "next_run_at": next_run_at, "last_tick_at": None, "last_task_id": None,
            "last_error": None, "ticks_fired": 0, "ticks_missed": 0, "created_at": now, "updated_at": now}


def test_schedule_rows_on_each_backend(any_store):
    engine = any_store.engine
    now = datetime.now(UTC).replace(microsecond=0)
    assert insert_schedule(engine, row("s1", "ana", now - timedelta(seconds=5)))
    assert not insert_schedule(engine, row("s1", "ana", now))  # a re-sent create stores nothing new
    insert_schedule(engine, row("s2", "ana", now + timedelta(hours=1)))
    insert_schedule(engine, row("s3", "bob", now - timedelta(hours=1), state="paused"))
    insert_schedule(engine, row("s4", "bob", now - timedelta(hours=1), instance="i2"))
    assert [r["id"] for r in due_schedules(engine, "i1", now)] == ["s1"]
    assert earliest_due(engine, "i1") == now - timedelta(seconds=5)
    got = get_schedule(engine, "s1", "ana", instance="i1")
    assert got is not None and got["next_run_at"] == now - timedelta(seconds=5)
    assert got["next_run_at"].tzinfo is not None and got["target"]["task"]["task_type"] == "image_generation"
    assert get_schedule(engine, "s1", "bob", instance="i1") is None
    assert not change_schedule(engine, "s1", "bob", instance="i1", state="paused")
    assert change_schedule(engine, "s1", None, instance="i1", next_run_at=now + timedelta(minutes=1),
                           ticks_fired=3, ticks_missed=1)
    assert due_schedules(engine, "i1", now) == []
    assert [r["id"] for r in list_schedules(engine, "ana", instance="i1")] == ["s2", "s1"]
    assert schedule_counts(engine, "ana", instance="i1") == {"total": 2, "by_state": {"active": 2}, "ticks_fired": 3,
                                                             "ticks_missed": 1}
    assert schedule_counts(engine, instance="i1")["by_state"] == {"active": 2, "paused": 1}
    assert not delete_schedule(engine, "s1", "bob", instance="i1")
    assert delete_schedule(engine, "s1", "ana", instance="i1")
    assert get_schedule(engine, "s1", instance="i1") is None
    assert stored_task_ids(engine, ["task_none"]) == set()


def test_an_instance_reads_and_changes_only_its_own_schedules(any_store):
    # instances sharing one database: each one's reads, lists, counts and changes of schedules see
    # only its own (s4 is instance i2's, though bob owns it)
    engine = any_store.engine
    now = datetime.now(UTC).replace(microsecond=0)
    insert_schedule(engine, row("s1", "bob", now, instance="i1"))
    insert_schedule(engine, row("s4", "bob", now, instance="i2"))
    assert get_schedule(engine, "s4", "bob", instance="i1") is None
    assert get_schedule(engine, "s4", instance="i2") is not None
    assert [r["id"] for r in list_schedules(engine, "bob", instance="i1")] == ["s1"]
    assert [r["id"] for r in list_schedules(engine, "bob", instance="i2")] == ["s4"]
    assert schedule_counts(engine, instance="i2")["total"] == 1
    assert not change_schedule(engine, "s4", "bob", instance="i1", state="paused")
    assert not delete_schedule(engine, "s4", "bob", instance="i1")
    assert get_schedule(engine, "s4", instance="i2")["state"] == "active"
