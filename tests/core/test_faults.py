"""Faults: a killed worker process, a killed Scheduler mid-batch, a restart of the whole app.
Every accepted task ends terminal, and none runs to completion twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import ray

import videoai_ray as vai
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler, scheduler_name

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def worker_of(instance: str, provider: str):
    from ray.util import list_named_actors

    names = [a["name"] for a in list_named_actors(all_namespaces=True)
             if a["name"].startswith(f"videoai-worker-{instance}-{provider}-")]
    assert len(names) == 1, names
    return ray.get_actor(names[0], namespace=NAMESPACE)


def test_killed_io_worker_reruns_its_attempt_once(engine, done_dir, done_files):
    fut = engine.images.generate(prompt="worker dies", provider="slow", use_cache=False)
    wait_for(lambda: fut.status is TaskStatus.PROCESSING)
    time.sleep(0.3)
    ray.kill(worker_of("t-engine", "slow"))
    task = fut.result(timeout=60)
    assert task.attempts == 2
    assert [p.name for p in done_files(done_dir, fut.id)] == [f"{fut.id}.2.done"]


def test_killed_cpu_task_process_reruns_once(engine, done_dir, done_files):
    fut = engine.images.generate(prompt="process dies", provider="cpu", use_cache=False)
    pid_file = done_dir / f"{fut.id}.1.pid"
    wait_for(pid_file.exists, timeout=60)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    task = fut.result(timeout=60)
    assert task.attempts == 2 and task.output["pid"] != int(pid_file.read_text())
    assert [p.name for p in done_files(done_dir, fut.id)] == [f"{fut.id}.2.done"]


def test_scheduler_killed_mid_batch_of_500(engine, done_dir, done_files):
    items = [{"task_type": "image_generation", "priority": ("low", "high")[i % 2],
              "input_data": {"prompt": f"restart {i}", "provider": "lat", "use_cache": False}} for i in range(500)]
    batch = engine.batch(items)
    wait_for(lambda: batch.counts().get("completed", 0) >= 120, timeout=60)
    handle = ray.get_actor(scheduler_name(engine.settings), namespace=NAMESPACE)
    ray.kill(handle, no_restart=False)  # Ray restarts it; it rebuilds its queues from the store
    counts = batch.wait(timeout=180)
    assert counts == {"completed": 500}
    per_task = [len(done_files(done_dir, tid)) for tid in batch.ids]
    assert per_task == [1] * 500, f"{sum(n > 1 for n in per_task)} tasks completed twice"


def test_a_restarted_scheduler_recognises_a_resent_chunk(engine):
    # runs after the kill above: this Scheduler is a restarted incarnation, so Ray may re-send it
    # calls that were in flight; a re-sent chunk must give back the stored tasks, not new ones
    prepared = [engine.service.prepare("image_generation", {"prompt": f"resend {i}", "provider": "lat",
                                                            "use_cache": False}, user_id="local") for i in range(3)]
    first = engine.service.submit(prepared)
    again = engine.service.submit(prepared)
    assert [a["id"] for a in again] == [a["id"] for a in first]
    assert all(a["existing"] for a in again) and not any(a["existing"] for a in first)


def test_whole_app_restart_recovers_accepted_tasks(ray_session, tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    settings = vai.Settings(home=tmp_path / "home", instance="t-restart", prefetch=0)
    kill_scheduler(settings)
    providers = [FixedLatencyProvider(0.2, 2, name="steady", log_dir=done)]
    client = vai.connect(settings=settings, providers=providers)
    items = [{"task_type": "subtitle_generation", "input_data": {"text": f"t{i}", "provider": "steady",
                                                                "use_cache": False}} for i in range(20)]
    batch = client.batch(items)
    wait_for(lambda: batch.counts().get("completed", 0) >= 2)
    kill_scheduler(settings)  # the app goes away: scheduler and workers, for good
    left = {s: n for s, n in batch.counts().items() if s != "completed"}
    assert left, "the restart should happen mid-batch"
    client = vai.connect(settings=settings, providers=providers)  # the app starts again
    batch = vai.Batch(client, batch.id, batch.ids)
    assert batch.wait(timeout=60) == {"completed": 20}
    for tid in batch.ids:
        assert len(list(Path(done).glob(f"{tid}.*.done"))) == 1
    kill_scheduler(settings)


def test_tasks_waiting_on_an_open_breaker_start_when_it_closes(ray_session, tmp_path):
    from videoai_ray.providers.testing import FlakyProvider

    settings = vai.Settings(home=tmp_path, instance="t-breaker", breaker_failures=1, breaker_cooldown=1.0,
                            retry_schedule=(0.1,), prefetch=0)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[FlakyProvider(1, latency=0.01, name="trip")])
    try:
        t0 = time.monotonic()
        task = client.images.generate(prompt="x", use_cache=False).result(timeout=20)
        # the first failure opens the breaker for 1 s; nothing else happens in the system, so
        # only the breaker's own wake-up can start the retry
        assert task.attempts == 2 and 1.0 <= time.monotonic() - t0 < 5.0
    finally:
        kill_scheduler(settings)
