"""Exactly once across a killed Scheduler, and the misfire policies.

The Scheduler is killed between submitting a tick's task and advancing the schedule (the fault
trigger file), and at an arbitrary moment (``ray.kill``, Ray restarts it); afterwards every tick
has at most one task, and each tick is accounted for: by its own task, by a catch-up run, or as
missed. The misfire tests set a schedule's clock back (its stored ``next_run_at``) as a Scheduler
that was down for a minute would find it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import ray
from schedule_ticks import NOOP, schedule_tasks, steps, ticks_of, wait_for

from videoai_ray.scheduler import NAMESPACE, scheduler_name
from videoai_ray.store.schedules import change_schedule, get_schedule

pytestmark = pytest.mark.slow

SECOND = timedelta(seconds=1)


def fired(schedule) -> int:
    return int(schedule.refresh().record["ticks_fired"])


def account(client, schedule) -> tuple[list, dict]:
    """Pause, then check the invariants every schedule keeps: no tick with two tasks, and the
    ``ticks_fired`` counter equal to the tasks created."""
    schedule.pause()
    rec = schedule.refresh().record
    tasks = schedule_tasks(client, schedule.id)
    ticks = ticks_of(tasks)
    assert len(set(ticks)) == len(ticks), "a tick ran twice"
    assert rec["ticks_fired"] == len(tasks)
    return tasks, rec


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_between_submitting_a_tick_and_advancing(request, backend):
    sched_client = request.getfixturevalue("sched_client" if backend == "sqlite" else "pg_sched_client")
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *", misfire_grace_seconds=120)
    trigger = sched_client.settings.fault_kill_file
    wait_for(lambda: fired(s) >= 2)
    trigger.write_text(f"schedule:{s.id}")
    wait_for(lambda: not trigger.exists(), timeout=20)  # the next tick was submitted, then the process died
    before = fired(s)
    wait_for(lambda: fired(s) >= before + 4, timeout=180)  # the restarted Scheduler goes on
    tasks, rec = account(sched_client, s)
    ticks = ticks_of(tasks)
    # within the grace every tick runs on its own: consecutive seconds, none twice, none lost
    assert steps(ticks) == [SECOND] * (len(ticks) - 1)
    assert rec["ticks_missed"] == 0 and not any(t.metadata["schedule"]["catch_up"] for t in tasks)


def test_killed_at_any_moment_with_run_once(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *", misfire_grace_seconds=1)
    wait_for(lambda: fired(s) >= 2)
    ray.kill(ray.get_actor(scheduler_name(sched_client.settings), namespace=NAMESPACE), no_restart=False)
    before = fired(s)
    wait_for(lambda: fired(s) >= before + 3, timeout=90)
    tasks, rec = account(sched_client, s)
    ticks = ticks_of(tasks)
    # every second from the first tick to the last is covered once: by its own task, or as one
    # of the ticks a catch-up run stands for (the catch-up's tick is the latest of them)
    covered = sum(t.metadata["schedule"]["ticks"] for t in tasks)
    assert covered == (ticks[-1] - ticks[0]) // SECOND + 1
    assert rec["ticks_missed"] == sum(t.metadata["schedule"]["ticks"] for t in tasks
                                      if t.metadata["schedule"]["catch_up"])


def _set_back(client, schedule, seconds: float) -> datetime:
    """Make ``schedule`` find ticks from ``seconds`` ago due, as after an outage that long."""
    schedule.pause()
    start = (datetime.now(UTC) - timedelta(seconds=seconds)).replace(microsecond=0)
    engine, instance = client.service.store.engine, client.service.store.instance
    assert change_schedule(engine, schedule.id, None, instance=instance, state="active", next_run_at=start)
    assert get_schedule(engine, schedule.id, instance=instance)["next_run_at"] == start
    return start


def _after(tasks: list, start: datetime) -> list:
    """The tasks of ticks from ``start`` on (ticks before the set-back may have run on time)."""
    return [t for t in tasks if ticks_of([t])[0] >= start]


def test_run_once_runs_one_catch_up_for_the_missed_ticks(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *", misfire_grace_seconds=10)
    start = _set_back(sched_client, s, 60)
    wait_for(lambda: len(_after(schedule_tasks(sched_client, s.id), start)) >= 3, timeout=30)
    tasks, rec = account(sched_client, s)
    tasks = _after(tasks, start)
    catch_ups = [t for t in tasks if t.metadata["schedule"]["catch_up"]]
    assert len(catch_ups) == 1
    [c] = catch_ups
    missed = c.metadata["schedule"]["ticks"]
    assert missed >= 50 and rec["ticks_missed"] == missed
    # the catch-up carries the latest missed tick and stands for every tick from the set-back
    # on; the ones before it have no task of their own, the ones after run each on time
    ticks = ticks_of(tasks)
    assert ticks[0] == ticks_of([c])[0] == start + (missed - 1) * SECOND
    assert steps(ticks) == [SECOND] * (len(ticks) - 1)
    assert all(t.metadata["schedule"]["ticks"] == 1 for t in tasks if t is not c)


def test_skip_runs_nothing_for_the_missed_ticks(sched_client):
    s = sched_client.schedule("image_generation", NOOP, cron="* * * * * *", misfire="skip",
                              misfire_grace_seconds=10)
    start = _set_back(sched_client, s, 60)
    wait_for(lambda: len(_after(schedule_tasks(sched_client, s.id), start)) >= 3, timeout=30)
    tasks, rec = account(sched_client, s)
    tasks = _after(tasks, start)
    assert not any(t.metadata["schedule"]["catch_up"] for t in tasks)
    ticks = ticks_of(tasks)
    assert ticks[0] >= start + 50 * SECOND  # nothing older than the grace ran
    assert rec["ticks_missed"] == (ticks[0] - start) // SECOND
    assert steps(ticks) == [SECOND] * (len(ticks) - 1)


def test_a_one_time_schedule_missed_while_paused(sched_client):
    at = datetime.now(UTC) + timedelta(seconds=1)
    run_once = sched_client.schedule("image_generation", NOOP, at=at, misfire_grace_seconds=1).pause()
    skip = sched_client.schedule("image_generation", NOOP, at=at, misfire="skip", misfire_grace_seconds=1).pause()
    time.sleep(3.0)  # its time passes while paused, by more than the grace
    # a resumed one-time schedule is due at once: it may already be done when resume answers
    assert run_once.resume().state in ("active", "done") and skip.resume().state in ("active", "done")
    wait_for(lambda: run_once.refresh().state == "done" and skip.refresh().state == "done", timeout=20)
    assert len(schedule_tasks(sched_client, run_once.id)) == 1 and run_once.record["ticks_missed"] == 1
    assert schedule_tasks(sched_client, skip.id) == [] and skip.record["ticks_missed"] == 1
    assert skip.record["ticks_fired"] == 0
