"""Attempts that end abnormally: a worker killed under an attempt (a lost attempt: it runs again
and does not count against the task's retries), a provider that crashes its process on every
attempt (a crash loop: it ends, as ``worker_lost``, after ``max_lost_attempts``), and provider code
that raises ``SystemExit`` or ``KeyboardInterrupt`` (that attempt fails, naming it; the worker and
the other attempts on it go on), in an I/O worker and in a CPU task."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from actors import pid_of, restart_scheduler, wait_dead, wait_for, worker_names

import videoai_ray as vai
from videoai_ray.errors import TaskFailed
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import ExitingProvider, FixedLatencyProvider, FlakyProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler

pytestmark = pytest.mark.slow

MAX_LOST = 4


@pytest.fixture(scope="module")
def client(ray_session: None, tmp_path_factory: pytest.TempPathFactory, done_dir: Path) -> Iterator[vai.Client]:
    home = tmp_path_factory.mktemp("interrupted")
    (home / "faults").mkdir()
    settings = vai.Settings(home=home, instance="t-interrupted", prefetch=0, retry_schedule=(0.2, 0.4, 0.8),
                            max_retries=3, max_lost_attempts=MAX_LOST, fault_pause_dir=home / "faults")
    kill_scheduler(settings)
    providers = [
        FixedLatencyProvider(0.2, 1, name="victim", log_dir=done_dir),
        ExitingProvider("process_exit", latency=0.05, name="crasher"),
        *(ExitingProvider(how, cpu_bound=cpu, latency=1.0, max_concurrency=4, timeout=60.0, log_dir=done_dir,
                          name=f"{how}-{'cpu' if cpu else 'io'}")
          for how in ("system_exit", "keyboard_interrupt") for cpu in (False, True)),
    ]
    flaky_cpu = FlakyProvider(4, latency=0.05, name="flaky-cpu")
    flaky_cpu.cpu_bound = True
    c = vai.connect(settings=settings, providers=[*providers, flaky_cpu])
    yield c
    kill_scheduler(settings)


def test_killed_workers_do_not_spend_the_tasks_retries(client: vai.Client, done_dir: Path) -> None:
    # max_retries is 3: four lost attempts used to fail the task; they are not its provider's fault
    faults = client.settings.fault_pause_dir
    assert faults is not None
    (faults / "attempt_started.arm").touch()
    fut = client.images.generate(prompt="the worker dies under me", provider="victim", use_cache=False)
    paused = faults / f"attempt_started.{fut.id}.paused"
    killed: set[str] = set()
    for attempt in range(1, MAX_LOST + 1):
        wait_for(paused.exists, what=f"attempt {attempt} held")
        names = [n for n in worker_names(client.settings.instance, "victim") if n not in killed]
        assert len(names) == 1, names
        worker = ray.get_actor(names[0], namespace=NAMESPACE)
        pid = pid_of(worker)
        if attempt < MAX_LOST:
            (faults / "attempt_started.arm").touch()  # the next attempt is held too
        ray.kill(worker)
        wait_dead(pid)
        killed.add(names[0])
        paused.unlink()
    task = fut.result(timeout=90)
    assert task.status is TaskStatus.COMPLETED and task.attempts == MAX_LOST + 1, (task.attempts, task.error)
    assert [p.name for p in done_dir.glob(f"{fut.id}.*.done")] == [f"{fut.id}.{MAX_LOST + 1}.done"]


def test_an_attempt_lost_with_the_scheduler_does_not_spend_a_retry(client: vai.Client) -> None:
    # a CPU task dies with the Scheduler that owns it; the next Scheduler runs it again as a lost
    # attempt. "flaky-cpu" fails attempts 1-4: with attempt 1 lost, 2-4 are the 3 retries' failures
    # and attempt 5 completes (counting the lost one, attempt 4 used to fail the task)
    faults = client.settings.fault_pause_dir
    assert faults is not None
    (faults / "attempt_started.arm").touch()
    fut = client.images.generate(prompt="lost with the Scheduler", provider="flaky-cpu", use_cache=False)
    paused = faults / f"attempt_started.{fut.id}.paused"
    wait_for(paused.exists, what="the CPU attempt held")
    try:
        restart_scheduler(client.settings)
    finally:
        paused.unlink()
    task = fut.result(timeout=120)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 5, (task.attempts, task.error)


def test_a_crash_loop_ends_as_worker_lost(client: vai.Client) -> None:
    fut = client.images.generate(prompt="exit: this input kills the process", provider="crasher", use_cache=False)
    with pytest.raises(TaskFailed) as info:
        fut.result(timeout=120)
    task = info.value.task
    assert task.attempts == MAX_LOST + 1 and task.error is not None and task.error.code == "worker_lost"
    assert f"VIDEOAI_MAX_LOST_ATTEMPTS={MAX_LOST}" in (task.error.message or ""), task.error.message
    # the provider still serves other tasks on a new worker
    assert client.images.generate(prompt="fine", provider="crasher", use_cache=False).result(timeout=60).attempts == 1


@pytest.mark.parametrize("cpu", [False, True], ids=["io-worker", "cpu-task"])
@pytest.mark.parametrize("how", ["system_exit", "keyboard_interrupt"])
def test_a_provider_raising_an_exit_fails_its_attempt_and_nothing_else(client: vai.Client, how: str,
                                                                       cpu: bool) -> None:
    name = f"{how}-{'cpu' if cpu else 'io'}"
    exception = {"system_exit": "SystemExit", "keyboard_interrupt": "KeyboardInterrupt"}[how]
    t0 = time.monotonic()
    exiting = client.images.generate(prompt="exit from the library", provider=name, use_cache=False)
    innocent = client.images.generate(prompt="an innocent neighbour", provider=name, use_cache=False)
    # the provider's timeout is 60 s: a worker whose loop died would hold the innocent task that long
    task = innocent.result(timeout=45)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 1
    with pytest.raises(TaskFailed) as info:
        exiting.result(timeout=45)
    failed = info.value.task
    assert failed.error is not None and failed.error.code == "transient_error"
    assert (failed.error.message or "").startswith(f"provider raised {exception}: "), failed.error.message
    assert failed.attempts == 4  # retried like any unexpected exception, max_retries 3
    after = client.images.generate(prompt="afterwards", provider=name, use_cache=False).result(timeout=45)
    assert after.attempts == 1
    assert time.monotonic() - t0 < 60
