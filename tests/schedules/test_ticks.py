"""Schedules fired by a real Scheduler: one task per tick of a cron with seconds, a one-time
schedule, pause / resume / delete, and what the statistics count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from schedule_ticks import NOOP, schedule_tasks, steps, ticks_of, wait_for

from videoai_ray.errors import InvalidRequest, ScheduleNotFound
from videoai_ray.futures import TaskFuture
from videoai_ray.models import TaskStatus
from videoai_ray.schedules import tick_task_id

pytestmark = pytest.mark.slow


def test_every_second_fires_one_task_per_tick(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *", name="each second")
    assert s.state == "active" and len(s.record["next_runs"]) == 5
    wait_for(lambda: s.refresh().record["ticks_fired"] >= 4)
    s.pause()
    rec = s.refresh().record
    tasks = schedule_tasks(sched_client, s.id)
    ticks = ticks_of(tasks)
    assert len(tasks) == rec["ticks_fired"] >= 4 and rec["ticks_missed"] == 0
    assert len(set(ticks)) == len(ticks)
    assert steps(ticks) == [timedelta(seconds=1)] * (len(ticks) - 1)
    assert [t.id for t in tasks] == [tick_task_id(s.id, tick) for tick in ticks]
    assert rec["last_task_id"] == tasks[-1].id and rec["next_runs"] == [] and rec["next_run_at"] is None
    for t in tasks:
        assert TaskFuture(sched_client, t.id).result(timeout=30).status is TaskStatus.COMPLETED


def test_a_one_time_schedule_runs_once_then_is_done(sched_client):
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    s = sched_client.schedule("image_generation", NOOP, at=at, timezone="Asia/Tokyo")
    assert s.record["kind"] == "at" and s.record["next_runs"][0]["local"].endswith("+09:00")
    wait_for(lambda: s.refresh().state == "done", timeout=20)
    [task] = schedule_tasks(sched_client, s.id)
    assert ticks_of([task]) == [at]
    assert s.record["ticks_fired"] == 1 and s.record["next_runs"] == []


def test_pause_stops_ticks_resume_skips_the_paused_ones_delete_keeps_the_tasks(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *")
    wait_for(lambda: s.refresh().record["ticks_fired"] >= 2)
    s.pause()
    paused_at = datetime.now(UTC)
    n = len(schedule_tasks(sched_client, s.id))
    import time

    time.sleep(2.5)
    assert len(schedule_tasks(sched_client, s.id)) == n and s.refresh().state == "paused"
    s.resume()
    assert s.state == "active" and datetime.fromisoformat(s.record["next_run_at"]) > paused_at
    wait_for(lambda: len(schedule_tasks(sched_client, s.id)) >= n + 2)
    ticks = ticks_of(schedule_tasks(sched_client, s.id))
    gap = [d for d in steps(ticks) if d > timedelta(seconds=1)]
    assert len(gap) == 1 and gap[0] >= timedelta(seconds=3)  # nothing ran for the paused ticks
    assert s.refresh().record["ticks_missed"] == 0
    s.delete()
    with pytest.raises(ScheduleNotFound):
        sched_client.get_schedule(s.id)
    with pytest.raises(ScheduleNotFound):
        sched_client.pause_schedule(s.id)
    kept = len(schedule_tasks(sched_client, s.id))
    assert kept >= n + 2
    time.sleep(1.5)
    assert len(schedule_tasks(sched_client, s.id)) == kept


def test_the_sdk_lists_shows_next_runs_and_refuses_bad_input(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="30 2 * * *", timezone="America/New_York",
                              name="nightly")
    got = sched_client.get_schedule(s.id, n_next=10)
    assert len(got.next_runs) == 10 and list(got.next_runs.columns) == ["utc", "local"]
    assert all(loc.endswith(("-05:00", "-04:00")) for loc in got.next_runs["local"])
    frame = sched_client.schedules()
    assert s.id in frame.index and frame.loc[s.id, "name"] == "nightly"
    other = type(sched_client)(sched_client.settings, sched_client.scheduler, sched_client.service.store,
                               user_id="somebody-else")
    with pytest.raises(ScheduleNotFound):
        other.get_schedule(s.id)
    with pytest.raises(ScheduleNotFound):
        other.delete_schedule(s.id)
    assert s.id not in other.schedules().index
    with pytest.raises(InvalidRequest) as info:
        sched_client.schedule("image_generation", NOOP, cron="0 25 * * *")
    assert info.value.field == "cron"
    with pytest.raises(InvalidRequest) as info:
        sched_client.schedule("image_generation", NOOP, cron="0 1 * * *", timezone="Europe/Atlantis")
    assert info.value.field == "timezone"
    with pytest.raises(InvalidRequest) as info:
        sched_client.schedule(cron="0 1 * * *")
    assert info.value.field == "target"
    assert sched_client.resume_schedule(s.id).state == "active"  # resuming an active one changes nothing
    sched_client.delete_schedule(s.id)


def test_statistics_count_schedules_and_ticks(sched_client):
    stats = sched_client.statistics().raw["schedules"]
    assert stats["total"] == sum(stats["by_state"].values()) >= 2
    assert stats["ticks_fired"] >= 5
    assert set(stats["by_state"]) <= {"active", "paused", "done"}
