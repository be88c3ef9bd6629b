"""A pipeline survives the death of its Scheduler (Ray restarts it) and of the whole app: the
state is in the store, unfinished pipelines are advanced again at start, and a step is never
submitted twice (its task id follows from the pipeline and step ids)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from pipeline_steps import done_count, img, pipe_providers, wait_until

import videoai_ray as vai
from videoai_ray.pipelines import PipelineSpec, PipelineStatus, pipeline_row, ref
from videoai_ray.scheduler import NAMESPACE, kill_scheduler
from videoai_ray.scheduler.named_actor import scheduler_name

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def restart_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory,
                   pipe_done: Path) -> Iterator[vai.Client]:
    home = tmp_path_factory.mktemp("pipe-restart")
    (home / "pause").mkdir()
    settings = vai.Settings(home=home, instance="t-pipes-restart", prefetch=0, retry_schedule=(0.2, 0.4),
                            fault_pause_dir=home / "pause")
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=pipe_providers(pipe_done))
    yield client
    kill_scheduler(settings)


def _kill_scheduler_actor(client: vai.Client) -> None:
    handle = ray.get_actor(scheduler_name(client.settings), namespace=NAMESPACE)
    ray.kill(handle, no_restart=False)  # Ray restarts it; it rebuilds its state from the store


def test_scheduler_killed_between_a_step_ending_and_the_next_being_submitted(
        restart_client: vai.Client, pipe_done: Path) -> None:
    pipe = restart_client.pipeline([img("a", "before the kill"), img("b", ref("a.output.provider")),
                                    img("c", ref("b.output.provider"))])
    pause = restart_client.settings.fault_pause_dir
    assert pause is not None
    (pause / "pipeline_advance.arm").touch()
    paused = pause / f"pipeline_advance.{pipe.id}.paused"
    wait_until(paused.exists, what="the runner to hold the pipeline before submitting b")
    assert pipe.record.step("a").status == "completed" and pipe.record.step("b").status == "waiting"
    _kill_scheduler_actor(restart_client)
    paused.unlink()
    record = pipe.result(timeout=90)
    assert record.status is PipelineStatus.COMPLETED
    assert [done_count(pipe_done, s.task_id) for s in record.steps] == [1, 1, 1]


def test_scheduler_killed_while_a_step_runs(restart_client: vai.Client, pipe_done: Path) -> None:
    pipe = restart_client.pipeline([img("long", "runs through the kill", provider="slow"),
                                    img("next", ref("long.output.provider"))])
    wait_until(lambda: pipe.steps["long"].status == "processing", what="the slow step to start")
    _kill_scheduler_actor(restart_client)
    record = pipe.result(timeout=90)
    assert record.status is PipelineStatus.COMPLETED
    assert [done_count(pipe_done, s.task_id) for s in record.steps] == [1, 1]


def test_whole_app_restart_mid_pipeline(restart_client: vai.Client, pipe_done: Path) -> None:
    pipe = restart_client.pipeline([img("long", "the app goes away", provider="slow"),
                                    img("next", ref("long.output.provider"))])
    wait_until(lambda: pipe.steps["long"].status == "processing", what="the slow step to start")
    settings = restart_client.settings
    kill_scheduler(settings)  # Scheduler and workers, for good
    client = vai.connect(settings=settings, providers=pipe_providers(pipe_done))
    record = vai.Pipeline(client, pipe.id).result(timeout=90)
    assert record.status is PipelineStatus.COMPLETED
    assert done_count(pipe_done, record.step("next").task_id) == 1


def test_a_poison_pipeline_running_across_a_restart_fails_after_it(restart_client: vai.Client) -> None:
    """A pipeline whose step b has a reference that can never resolve (an index in other digits,
    as stored before creation refused it; b is due only after the slow step w, i.e. after the
    restart): the restarted Scheduler's recovery advances it, and it fails with
    ``invalid_reference`` instead of being retried forever."""
    spec = PipelineSpec.model_validate({"steps": [
        img("a", "before the restart", provider="images"), img("w", "through the restart", provider="slow"),
        img("b", ref("a.output.images.²"), after=["w"])]})
    row = pipeline_row(spec, user_id=restart_client.user_id)
    # the Scheduler's own create skips the creation check (a handle by name: an earlier test may
    # have replaced the client's Scheduler)
    scheduler = ray.get_actor(scheduler_name(restart_client.settings), namespace=NAMESPACE)
    ray.get(scheduler.create_pipeline.remote(row))
    _kill_scheduler_actor(restart_client)
    pipelines = restart_client.service.pipelines
    wait_until(lambda: pipelines.get(row["id"]).done, timeout=90, what="the poison pipeline to end")
    record = pipelines.get(row["id"])
    assert record.status is PipelineStatus.FAILED, record
    assert record.error is not None and record.error["code"] == "invalid_reference"
    assert (record.error["step"], record.error["reference"]) == ("b", "a.output.images.²")
