"""Done when of issue 14, item 1, on SQLite and on PostgreSQL: a driver following a 10,000-task
batch is killed, the Scheduler is killed while the batch runs, and a new driver re-attaches by the
batch id and sees every task end exactly once; the provider ran once per task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

import videoai_ray as vai
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler, scheduler_name

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("fault_driver.py")
N = 10_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fast-runs")


@pytest.fixture(scope="module")
def settings(ray_session: None, db_url: str | None, runs: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Settings]:
    backend = "pg" if db_url else "sqlite"
    settings = vai.Settings(home=tmp_path_factory.mktemp("reattach-home"), instance=f"t-reattach-{backend}",
                            database_url=db_url, prefetch=0, cache_enabled=False)
    kill_scheduler(settings)
    # a fast provider that leaves one file per completed attempt (the run count)
    vai.connect(settings=settings, providers=[FixedLatencyProvider(0.02, 50, name="fast", log_dir=runs)])
    yield settings
    kill_scheduler(settings)


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_new_driver_reattaches_after_the_driver_and_the_scheduler_die(settings, runs, tmp_path) -> None:
    out = tmp_path / "batch-id"
    env = {**os.environ, "VIDEOAI_HOME": str(settings.home), "VIDEOAI_INSTANCE": settings.instance,
           "VIDEOAI_PREFETCH": "0", "VIDEOAI_CACHE_ENABLED": "false", "FOLLOW_ITEMS": str(N),
           "FOLLOW_PROVIDER": "fast", "RAY_GCS": ray.get_runtime_context().gcs_address}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    driver = subprocess.Popen([sys.executable, str(DRIVER), "follow", str(out)], env=env, cwd=DRIVER.parent,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(out.exists, timeout=120)
        batch_id = out.read_text()
        observer = vai.connect(settings=settings)

        def completed() -> int:
            return observer.batch_from_id(batch_id).counts().get("completed", 0)

        wait_for(lambda: completed() >= 1_000 or driver.poll() is not None)
        assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
        driver.send_signal(signal.SIGKILL)  # the notebook's kernel dies
        driver.wait(timeout=30)
        wait_for(lambda: completed() >= 2_500)
        ray.kill(ray.get_actor(scheduler_name(settings), namespace=NAMESPACE), no_restart=False)
        assert completed() < N, "the kills should come mid-batch"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    # a new driver: a new client, only the batch id in hand
    client = vai.connect(settings=settings)
    batch = client.batch_from_id(batch_id)
    assert len(batch) == N and batch.expected == N
    seen = Counter(t.id for t in batch.as_completed(timeout=300))
    assert len(seen) == N and set(seen.values()) == {1} and set(seen) == set(batch.ids)
    assert batch.counts() == {"completed": N}
    ran = Counter(name.split(".", 1)[0] for name in os.listdir(runs) if name.endswith(".done"))
    per_task = [ran[tid] for tid in batch.ids]
    assert per_task == [1] * N, f"{sum(n > 1 for n in per_task)} ran twice, {per_task.count(0)} never"
    row = client.batches().loc[batch_id]
    assert (row["expected"], row["submitted"], row["missing"], row["completed"]) == (N, N, 0, N)
