"""Model provider pools on the real local Ray: one weight load per actor, batches larger than one
under load, growth and shrinking, a dead actor replaced with only its attempts run again, and
per-item errors, cancel and timeouts inside a batch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

import videoai_ray as vai
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import BatchSleepProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler


@pytest.fixture(scope="module")
def loads_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loads")


@pytest.fixture(scope="module")
def pool_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory, loads_dir: Path) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("pool-home"), instance="t-pools", max_retries=1,
                            cache_enabled=False, retry_schedule=(0.2,))
    kill_scheduler(settings)
    providers = [
        BatchSleepProvider(0.4, name="grow", log_dir=loads_dir, max_batch_size=8, pool_max=2, batch_wait_s=0.05,
                           pool_idle_s=1.5),
        BatchSleepProvider(2.0, name="slow-pool", log_dir=loads_dir, max_batch_size=4, pool_max=2),
        BatchSleepProvider(0.3, name="items", max_batch_size=8, batch_wait_s=0.3),
        BatchSleepProvider(5.0, name="timeouts", max_batch_size=4, batch_wait_s=0.2, timeout=0.5),
        BatchSleepProvider(0.1, name="no-weights", load_error="weights not found at /models/none"),
    ]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


def _submit(client: vai.Client, provider: str, prompts: list[str]) -> Any:
    return client.batch([{"task_type": "image_generation", "input_data": {"prompt": p, "provider": provider}}
                         for p in prompts])


def _pool(client: vai.Client, name: str) -> dict[str, Any]:
    row = next(r for r in client.service.providers.list() if r["name"] == name)
    assert row["pool"] is not None, row
    return dict(row["pool"])


def test_one_load_per_actor_batches_grow_and_shrink(pool_client: vai.Client, loads_dir: Path) -> None:
    batch = _submit(pool_client, "grow", [f"p{i}" for i in range(48)])
    assert batch.wait(timeout=120) == {"completed": 48}
    outputs = [t.output or {} for t in batch.results()]
    pool = _pool(pool_client, "grow")
    loads = sorted(loads_dir.glob("load.grow.*"))
    # every actor loaded the weights exactly once, and every output came from a loaded actor
    assert len(loads) == pool["started"] == 2, (loads, pool)
    pids = {o["pid"] for o in outputs}
    assert len(pids) == 2 and {int(f.read_text()) for f in loads} == pids
    assert all(o["loaded_pid"] == o["pid"] for o in outputs)
    # batches larger than one under load, and the listing says so
    assert max(o["batch_size"] for o in outputs) == 8 and pool["largest_batch"] == 8
    assert pool["items"] == 48 and pool["batches"] < 48 and pool["mean_batch"] > 1
    assert pool["loads"] == 2 and all(a["loads"] == 1 for a in pool["actors"])
    frame = pool_client.providers()
    assert frame.loc["grow", "pool"]["size"] == 2 and frame.loc["grow", "cap"] == 2 * 8 * 2
    # idle for pool_idle_s: the pool shrinks to pool_min (0)
    deadline = time.monotonic() + 20
    while _pool(pool_client, "grow")["size"] > 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _pool(pool_client, "grow")["size"] == 0


def test_one_bad_item_fails_alone(pool_client: vai.Client) -> None:
    prompts = [f"ok {i}" for i in range(6)] + ["please fail", "boom"]
    batch = _submit(pool_client, "items", prompts)
    batch.wait(timeout=60)
    by_prompt = {t.input["prompt"]: t for t in batch.results()}
    assert by_prompt["please fail"].status is TaskStatus.FAILED
    assert by_prompt["please fail"].error is not None and by_prompt["please fail"].error.code == "invalid_input"
    # "boom" makes the whole batched call raise: the batch is served item by item, boom fails alone
    assert by_prompt["boom"].status is TaskStatus.FAILED and "boom" in (by_prompt["boom"].error.message or "")
    ok = [by_prompt[p] for p in prompts[:6]]
    assert all(t.status is TaskStatus.COMPLETED for t in ok)
    # they were sent as one batch of 8; the failed batched call was then served item by item
    assert _pool(pool_client, "items")["largest_batch"] == 8
    assert all(t.output["batch_size"] == 1 for t in ok)


def test_a_poison_output_fails_alone(pool_client: vai.Client) -> None:
    batch = _submit(pool_client, "items", ["ok 1", "poison pill", "ok 2"])
    batch.wait(timeout=60)
    by_prompt = {t.input["prompt"]: t for t in batch.results()}
    bad = by_prompt["poison pill"]
    assert bad.status is TaskStatus.FAILED and bad.error is not None and bad.error.code == "invalid_output"
    assert "set" in (bad.error.message or "")
    assert all(by_prompt[p].status is TaskStatus.COMPLETED for p in ("ok 1", "ok 2"))


def test_a_provider_exit_fails_its_item_alone(pool_client: vai.Client) -> None:
    # SystemExit from run_batch used to stop the pool actor's event loop: every item hung
    batch = _submit(pool_client, "items", ["ok 1", "sysexit in the model library", "ok 2"])
    batch.wait(timeout=60)
    by_prompt = {t.input["prompt"]: t for t in batch.results()}
    bad = by_prompt["sysexit in the model library"]
    assert bad.status is TaskStatus.FAILED and bad.error is not None
    assert (bad.error.message or "").startswith("provider raised SystemExit: the model library"), bad.error.message
    assert all(by_prompt[p].status is TaskStatus.COMPLETED for p in ("ok 1", "ok 2"))


def test_cancel_inside_a_batch(pool_client: vai.Client) -> None:
    batch = _submit(pool_client, "slow-pool", [f"c{i}" for i in range(4)])
    futs = batch.futures()
    deadline = time.monotonic() + 30
    while futs[0].status is not TaskStatus.PROCESSING and time.monotonic() < deadline:
        time.sleep(0.05)
    futs[0].cancel()
    batch.wait(timeout=60)
    statuses = [f.status for f in futs]
    assert statuses[0] is TaskStatus.CANCELLED
    assert statuses[1:] == [TaskStatus.COMPLETED] * 3


def test_timeout_inside_a_batch(pool_client: vai.Client) -> None:
    batch = _submit(pool_client, "timeouts", ["t1", "t2"])
    batch.wait(timeout=60)
    tasks = batch.results()
    assert all(t.status is TaskStatus.FAILED and t.error and t.error.code == "timeout" for t in tasks), tasks


def test_dead_actor_is_replaced_and_only_its_attempts_run_again(pool_client: vai.Client, loads_dir: Path) -> None:
    # 16 tasks, batches of 4, two actors: each actor holds two batches; kill one actor mid-batch
    batch = _submit(pool_client, "slow-pool", [f"d{i}" for i in range(16)])
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        actors = [a for a in _pool(pool_client, "slow-pool")["actors"] if a["ready"] and a["busy"]]
        victim = actors[0] if actors else None
        time.sleep(0.05)
    assert victim is not None
    handle = next(ray.get_actor(a["name"], namespace=NAMESPACE) for a in ray.util.list_named_actors(True)
                  if a["name"].endswith(victim["id"]) and a["namespace"] == NAMESPACE)
    ray.kill(handle, no_restart=True)
    # a lost worker's attempt runs again at once
    counts = batch.wait(timeout=120)
    tasks = batch.results()
    assert counts == {"completed": 16}, [(t.status, t.error) for t in tasks]
    rerun = [t for t in tasks if t.attempts > 1]
    assert 1 <= len(rerun) <= 2 * 4, "only the dead actor's batches run again"
    assert all(t.output["pid"] != victim["pid"] for t in rerun)
    pool = _pool(pool_client, "slow-pool")
    assert pool["replaced"] >= 1


def test_a_model_that_cannot_load_fails_its_tasks_with_the_reason_after_retries(pool_client: vai.Client) -> None:
    fut = pool_client.images.generate(prompt="no weights here", provider="no-weights")
    task = fut.wait(timeout=60)
    assert task.status is TaskStatus.FAILED, task
    assert task.attempts == 2  # max_retries=1: the load is tried again, a failure can pass
    assert task.error is not None and task.error.retryable
    assert "could not be loaded" in task.error.message and "weights not found" in task.error.message
    assert _pool(pool_client, "no-weights")["size"] == 0
