"""The core engine end to end on a real local Ray: SDK → Scheduler → workers → store."""

from __future__ import annotations

import asyncio
import time

import pytest
from ray import cloudpickle

import videoai_ray as vai
from videoai_ray.errors import InvalidTransition, TaskCancelled, TaskFailed
from videoai_ray.models import TaskStatus


def img(client, provider, prompt="x", **kw):
    return client.images.generate(prompt=prompt, provider=provider, use_cache=False, **kw)


def test_round_trip_and_future_api(engine):
    fut = img(engine, "lat", "hello", metadata={"k": "v"}, priority="high")
    task = fut.result(timeout=30)
    assert task.status is TaskStatus.COMPLETED and task.output["provider"] == "lat"
    assert task.attempts == 1 and task.progress == 1.0 and task.metadata == {"k": "v"}
    assert task.started_at <= task.finished_at and task.priority.value == "high"
    assert fut.done() and fut.status is TaskStatus.COMPLETED and engine.get(fut.id) == task
    assert "completed" in repr(fut)


def test_await_from_async_code(engine):
    async def main():
        futs = [img(engine, "lat", f"async {i}") for i in range(5)]
        return await asyncio.gather(*futs)

    tasks = asyncio.run(main())
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 5


def test_strict_priority_and_fifo_under_saturation(engine):
    blocker = img(engine, "one", "blocker")
    order = ["low", "medium", "urgent", "high", "low", "urgent", "medium", "high"]
    futs = [img(engine, "one", f"{p}-{i}", priority=p) for i, p in enumerate(order)]
    blocker.result(timeout=30)
    tasks = [f.result(timeout=60) for f in futs]
    started = [t.input["prompt"] for t in sorted(tasks, key=lambda t: t.started_at)]
    assert started == ["urgent-2", "urgent-5", "high-3", "high-7", "medium-1", "medium-6", "low-0", "low-4"]


def test_cancel_pending_and_running(engine, done_dir, done_files):
    running = img(engine, "slow", "running")
    pending = img(engine, "slow", "pending")
    deadline = time.monotonic() + 20
    while running.status is not TaskStatus.PROCESSING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pending.cancel().status is TaskStatus.CANCELLED
    assert running.cancel().status is TaskStatus.CANCELLED
    with pytest.raises(TaskCancelled):
        running.result(timeout=5)
    p = pending.wait(timeout=5)
    assert p.started_at is None and p.attempts == 0  # a cancelled pending task never starts
    time.sleep(1.5)  # the running attempt was told to stop: it never completes
    assert done_files(done_dir, running.id) == []
    assert engine.get(running.id).status is TaskStatus.CANCELLED
    # the slot was freed: the provider takes new work
    assert img(engine, "slow", "after").result(timeout=30).status is TaskStatus.COMPLETED


def test_only_failed_or_cancelled_tasks_can_be_retried(engine):
    done = img(engine, "lat", "finished").result(timeout=30)
    with pytest.raises(InvalidTransition):
        engine.retry(done.id)
    with pytest.raises(vai.TaskNotFound):
        engine.retry("task_does_not_exist")


def test_transient_errors_are_retried(engine):
    task = img(engine, "flaky2").result(timeout=30)
    assert task.attempts == 3 and task.error is None


def test_retries_exhausted_then_manual_retry(engine):
    fut = img(engine, "flaky4")
    with pytest.raises(TaskFailed) as info:
        fut.result(timeout=30)
    failed = info.value.task
    assert failed.attempts == 4 and failed.error.code == "transient_error" and failed.error.retryable
    fut.retry()
    task = fut.result(timeout=30)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 5 and task.error is None


def test_permanent_error_fails_at_once(engine):
    with pytest.raises(TaskFailed) as info:
        img(engine, "perm").result(timeout=30)
    task = info.value.task
    assert task.attempts == 1 and task.error.code == "invalid_input" and not task.error.retryable
    assert "not acceptable" in task.error.message


def test_rate_limit_retry_after_is_honoured(engine):
    task = img(engine, "ratelimited").result(timeout=30)
    assert task.attempts == 2
    assert (task.finished_at - task.started_at).total_seconds() >= 1.0  # schedule says 0.2 s


def test_failover_to_the_next_provider(engine):
    task = engine.videos.generate(prompt="fails over", use_cache=False).result(timeout=30)
    assert task.provider == "good-video" and task.attempts == 2
    rows = engine.providers().loc[["bad-video", "good-video"]]
    assert rows.loc["bad-video", "failures"] >= 1 and rows.loc["good-video", "successes"] >= 1


def test_no_provider_fails_at_once_with_a_reason(engine):
    fut = engine.subtitles.generate("Hello there.", source_language="en", target_language="de")
    with pytest.raises(TaskFailed) as info:
        fut.result(timeout=10)
    assert info.value.task.error.code == "no_provider" and info.value.task.attempts == 0


def test_idempotency_key(engine):
    a = engine.images.generate(prompt="same", provider="lat", idempotency_key="k-1", use_cache=False)
    b = engine.images.generate(prompt="same", provider="lat", idempotency_key="k-1", use_cache=False)
    assert a.id == b.id
    other = vai.Client(engine.settings, engine.scheduler, engine.service.store, user_id="someone-else")
    c = other.images.generate(prompt="same", provider="lat", idempotency_key="k-1", use_cache=False)
    assert c.id != a.id
    assert len(engine.tasks(limit=500).query("id == @a.id")) == 1


def test_cache_hit_returns_a_completed_task_at_once(engine):
    first = engine.images.generate(prompt="cache me", provider="lat").result(timeout=30)
    second = engine.images.generate(prompt="cache me", provider="lat", priority="low", metadata={"x": 1})
    t = second.wait(timeout=5)
    assert second.cache_hit and t.cache_hit and t.status is TaskStatus.COMPLETED and t.output == first.output
    third = engine.images.generate(prompt="cache me", provider="lat", use_cache=False)
    assert not third.cache_hit and not third.result(timeout=30).cache_hit
    stats = engine.cache_stats()
    assert stats["total"]["hits"] >= 1


def test_register_a_user_provider_from_the_sdk(engine):
    import sys

    class Shout(vai.Provider):
        name = "shout"
        task_types = frozenset({vai.TaskType.SUBTITLE_GENERATION})
        quality = 0.99
        max_concurrency = 2

        async def run(self, request, ctx):
            ctx.progress(0.5)
            return {"content": request.text.upper()}

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # as for a class defined in a notebook
    try:
        engine.register_provider(Shout())
        task = engine.subtitles.generate("hello", use_cache=False).result(timeout=30)
        assert task.provider == "shout" and task.output == {"content": "HELLO"}
        assert "shout" in engine.providers().index
        engine.unregister_provider("shout")
        assert "shout" not in engine.providers().index
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_statistics_and_frames(engine):
    img(engine, "lat", "for stats").result(timeout=30)
    stats = engine.statistics()
    assert stats.raw["total_tasks"] >= 1 and 0 <= stats.success_rate <= 1
    assert "image_generation" in stats.by_type.index
    assert str(stats.by_type["mean_duration"].dtype).startswith("timedelta")
    assert set(stats.queue.index) == {"low", "medium", "high", "urgent"}
    assert "lat" in stats.providers.index and "health" in stats.providers
    df = engine.tasks(status="completed", task_type="image_generation", limit=5)
    assert len(df) == 5 and str(df["created_at"].dtype).startswith("datetime64") and df["status"].dtype == "category"


def test_batch_as_completed_and_frame(engine):
    items = [{"task_type": "image_generation", "input_data": {"prompt": f"b{i}", "provider": "lat",
                                                              "use_cache": False},
              "priority": ["low", "high"][i % 2]} for i in range(120)]
    batch = engine.batch(items, chunk_size=25)
    seen = [t.id for t in batch.as_completed(timeout=60)]
    assert sorted(seen) == sorted(batch.ids) and len(set(seen)) == 120
    df = batch.to_pandas()
    assert (df["status"] == "completed").all() and batch.progress == 1.0
    assert batch.counts() == {"completed": 120}
