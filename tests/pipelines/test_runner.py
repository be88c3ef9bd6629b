"""Pipelines on a real Scheduler: steps start when their inputs are ready, per-step retries, a
failed step fails the pipeline and cancels the rest, cancel, idempotency, statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_steps import done_count, img, wait_until

import videoai_ray as vai
from videoai_ray.errors import IdempotencyConflict, InvalidRequest, InvalidTransition, PipelineNotFound
from videoai_ray.pipelines import PipelineStatus, ref, step
from videoai_ray.pipelines.rows import list_pipelines

pytestmark = pytest.mark.slow


def test_steps_run_in_order_and_feed_each_other(pipe_client: vai.Client, pipe_done: Path) -> None:
    pipe = pipe_client.pipeline([
        img("a", "first"),
        img("b", ref("a.output.provider")),            # "lat"
        img("c", "third", after=["a"]),
        vai.step("d", "subtitle_generation", text=ref("b.input.prompt"), provider="lat", use_cache=False),
    ], metadata={"run": "order"})
    assert [s.status for s in pipe.record.steps][1:] == ["waiting"] * 2 + ["waiting"]
    record = pipe.result(timeout=60)
    assert record.status is PipelineStatus.COMPLETED and record.done
    tasks = {s.id: pipe.steps[s.id].result() for s in record.steps}
    assert tasks["b"].input["prompt"] == "lat" and tasks["d"].input["text"] == "lat"
    # a step starts only after the steps it needs have finished
    assert tasks["b"].started_at >= tasks["a"].finished_at and tasks["c"].started_at >= tasks["a"].finished_at
    assert tasks["d"].started_at >= tasks["b"].finished_at
    assert tasks["b"].metadata == {"run": "order", "pipeline_id": pipe.id, "pipeline_step": "b"}
    assert all(done_count(pipe_done, t.id) == 1 for t in tasks.values())
    assert pipe_client.pipeline_from_id(pipe.id).status is PipelineStatus.COMPLETED


def test_retries_are_per_step(pipe_client: vai.Client) -> None:
    pipe = pipe_client.pipeline([img("a", "retry me", provider="flaky1"), img("b", ref("a.output.provider"))])
    record = pipe.result(timeout=60)
    assert record.step("a").status == "completed"
    assert pipe.steps["a"].result().attempts == 2 and pipe.steps["b"].result().attempts == 1


def test_a_failed_step_fails_the_pipeline_and_cancels_the_rest(pipe_client: vai.Client) -> None:
    pipe = pipe_client.pipeline([
        img("bad", "refused", provider="perm"),
        img("after_bad", ref("bad.output.provider")),
        img("long", "independent, runs until cancelled", provider="park"),
        img("after_long", ref("long.output.provider")),
    ])
    with pytest.raises(vai.PipelineFailed, match="at step bad: invalid_input") as info:
        pipe.result(timeout=60)
    record = info.value.pipeline
    assert record.status is PipelineStatus.FAILED
    assert record.error == {"step": "bad", "code": "invalid_input", "message": "the prompt is not acceptable"}
    states = {s.id: s.status for s in record.steps}
    assert states == {"bad": "failed", "after_bad": "skipped", "long": states["long"], "after_long": "skipped"}
    # the running step is told to stop when the pipeline fails; it ends cancelled once its worker
    # has interrupted it (a moment after the pipeline's end is written, not in the same transaction)
    assert states["long"] in ("processing", "cancelled")
    wait_until(lambda: pipe.steps["long"].status == "cancelled", what="the running step to be cancelled")
    with pytest.raises(vai.TaskFailed):
        pipe.steps["bad"].result()
    with pytest.raises(vai.PipelineFailed, match="step after_bad never ran"):
        pipe.steps["after_bad"].result(timeout=5)
    with pytest.raises(vai.TaskNotFound):
        pipe_client.get(pipe.steps["after_bad"].task_id)  # never submitted


def test_cancel_cancels_every_remaining_step(pipe_client: vai.Client) -> None:
    pipe = pipe_client.pipeline([img("long", "slow one", provider="park"), img("next", ref("long.output.provider"))])
    wait_until(lambda: pipe.steps["long"].status == "processing", what="the first step to start")
    record = pipe.cancel()
    assert record.status is PipelineStatus.CANCELLED
    assert {s.id: s.status for s in record.steps} == {"long": "cancelled", "next": "skipped"}
    with pytest.raises(vai.PipelineFailed, match="cancelled"):
        pipe.result(timeout=5)
    with pytest.raises(InvalidTransition):
        pipe.cancel()


def test_idempotency_key_and_nothing_stored_for_a_bad_spec(pipe_client: vai.Client) -> None:
    steps = [img("a", "same")]
    first = pipe_client.pipeline(steps, idempotency_key="pipe-key-1")
    again = pipe_client.pipeline(steps, idempotency_key="pipe-key-1")
    assert again.id == first.id
    with pytest.raises(IdempotencyConflict):
        pipe_client.pipeline([img("a", "other")], idempotency_key="pipe-key-1")
    store = pipe_client.service.store
    before = len(list_pipelines(store.engine, pipe_client.user_id, 500, instance=store.instance))
    with pytest.raises(InvalidRequest, match="unknown step 'nope'"):
        pipe_client.pipeline([img("a", "x"), img("b", ref("nope.output.provider"))])
    assert len(list_pipelines(store.engine, pipe_client.user_id, 500, instance=store.instance)) == before
    first.result(timeout=30)


def test_a_step_answered_from_the_cache_still_advances_the_pipeline(pipe_client: vai.Client) -> None:
    spec = [step("a", "image_generation", prompt="cached once", provider="lat"),
            step("b", "image_generation", prompt=ref("a.output.provider"), provider="lat")]
    pipe_client.pipeline(spec).result(timeout=30)
    again = pipe_client.pipeline(spec)
    record = again.result(timeout=30)
    assert all(again.steps[s.id].result().cache_hit for s in record.steps)


def test_other_users_pipelines_do_not_exist_for_you(pipe_client: vai.Client) -> None:
    pipe = pipe_client.pipeline([img("a", "mine")])
    other = vai.Client(pipe_client.settings, pipe_client.scheduler, pipe_client.service.store, user_id="mallory")
    with pytest.raises(PipelineNotFound):
        other.pipeline_from_id(pipe.id)
    with pytest.raises(PipelineNotFound):
        other.service.pipelines.cancel(pipe.id, "mallory")
    pipe.result(timeout=30)
    stats = pipe_client.statistics().pipelines
    assert stats["total"] >= 1 and stats["by_status"].get("completed", 0) >= 1
    assert other.statistics().pipelines == {"total": 0, "by_status": {}, "success_rate": None}
