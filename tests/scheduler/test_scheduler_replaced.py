"""A Scheduler killed for good (``ray.kill(no_restart=True)``) and replaced by a new ``connect()``,
on SQLite and on PostgreSQL: the surviving workers report to the new Scheduler (another actor
under the same name), their held attempts are settled exactly once, and new tasks run.

Four attempts are held at fault points (``videoai_ray.fault_points``) while the Scheduler dies:
two before the provider runs, two with a finished result not yet reported. One of each is let go
while no Scheduler exists (its worker's reports fail and it looks the Scheduler up by name until
one answers), the other two once the new Scheduler has adopted the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from actors import kill_scheduler_for_good, wait_for

import videoai_ray as vai
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler

pytestmark = pytest.mark.slow


def hold(client: vai.Client, faults: Path, point: str, tag: str) -> tuple[str, Path]:
    """Submit a task whose attempt pauses at ``point``; returns its id and the file that holds it."""
    (faults / f"{point}.arm").touch()
    task_id = client.images.generate(prompt=tag, provider="steady", use_cache=False).id
    paused = faults / f"{point}.{task_id}.paused"
    wait_for(paused.exists, what=f"{tag} held at {point}")
    return task_id, paused


def test_a_replaced_scheduler_settles_the_held_attempts_once_and_runs_new_tasks(ray_session: None, db_url: str | None,
                                                                               tmp_path: Path) -> None:
    done, faults = tmp_path / "done", tmp_path / "faults"
    done.mkdir()
    faults.mkdir()
    settings = vai.Settings(home=tmp_path / "home", instance=f"t-replaced-{'pg' if db_url else 'sqlite'}",
                            database_url=db_url, prefetch=0, retry_schedule=(0.2, 0.4, 0.8), fault_pause_dir=faults)
    providers = [FixedLatencyProvider(0.2, 8, name="steady", log_dir=done)]
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=providers)
    try:
        early_run, early_run_hold = hold(client, faults, "attempt_started", "released before the new Scheduler")
        early_done, early_done_hold = hold(client, faults, "result_ready", "finished before the kill, reported late")
        late_run, late_run_hold = hold(client, faults, "attempt_started", "released after adoption")
        late_done, late_done_hold = hold(client, faults, "result_ready", "finished, reported after adoption")
        assert (done / f"{early_done}.1.done").exists() and not (done / f"{early_run}.1.done").exists()

        kill_scheduler_for_good(settings)
        early_run_hold.unlink()  # it runs now, with no Scheduler to report to
        early_done_hold.unlink()
        wait_for((done / f"{early_run}.1.done").exists, what="the attempt released without a Scheduler to run")

        client = vai.connect(settings=settings, providers=providers)  # another Scheduler actor, same name
        wait_for(lambda: client.get(early_run).status.terminal, timeout=90, what="a result held without a Scheduler")
        late_run_hold.unlink()
        late_done_hold.unlink()

        held = [early_run, early_done, late_run, late_done]
        wait_for(lambda: all(client.get(t).status.terminal for t in held), timeout=90, what="every held task's end")
        for tid in held:
            task = client.get(tid)
            assert task.status is TaskStatus.COMPLETED, (tid, task.status, task.error)
            assert task.attempts == 1 and task.provider == "steady", (tid, task.attempts)
            assert sorted(p.name for p in done.glob(f"{tid}.*.done")) == [f"{tid}.1.done"], "ran more than once"

        after = client.images.generate(prompt="submitted to the new Scheduler", provider="steady", use_cache=False)
        task = after.result(timeout=60)
        assert task.status is TaskStatus.COMPLETED and task.attempts == 1
    finally:
        for f in faults.glob("*.paused"):
            f.unlink()
        kill_scheduler(settings)
