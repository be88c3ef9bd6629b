"""Schedules whose target is a pipeline, fired by a real Scheduler: one pipeline per tick, its id
(and so its step task ids) derived from the schedule and the tick; exactly once per tick across a
Scheduler killed between creating a tick's pipeline and advancing the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from schedule_ticks import NOOP, steps, wait_for

import videoai_ray as vai
from videoai_ray.pipelines import PipelineRecord, PipelineStatus, ref, step, step_task_id
from videoai_ray.schedules import tick_pipeline_id

pytestmark = pytest.mark.slow

SECOND = timedelta(seconds=1)
#: two steps on the no-op provider, the second reading the first's input
STEPS = [step("a", "image_generation", **NOOP),
         step("b", "image_generation", **{**NOOP, "prompt": ref("a.input.prompt")})]


def schedule_pipelines(client: vai.Client, schedule_id: str) -> list[PipelineRecord]:
    """The pipelines a schedule started, oldest tick first."""
    found = [p for p in client.service.pipelines.list(client.user_id, limit=500)
             if (p.metadata.get("schedule") or {}).get("id") == schedule_id]
    return sorted(found, key=lambda p: p.metadata["schedule"]["tick"])


def tick_of(p: PipelineRecord) -> datetime:
    return datetime.fromisoformat(p.metadata["schedule"]["tick"])


def fired(schedule) -> int:
    return int(schedule.refresh().record["ticks_fired"])


def check_once_per_tick(client: vai.Client, schedule) -> list[PipelineRecord]:
    """Pause, then check: one pipeline per tick, with the tick's id, ``ticks_fired`` equal to the
    pipelines, each completed with its two step tasks and no other task of that pipeline."""
    schedule.pause()
    # a pass that was creating a tick's pipeline when the pause came writes its count just after
    wait_for(lambda: fired(schedule) == len(schedule_pipelines(client, schedule.id)), timeout=10)
    rec = schedule.refresh().record
    pipes = schedule_pipelines(client, schedule.id)
    ticks = [tick_of(p) for p in pipes]
    assert len(set(ticks)) == len(ticks), "a tick ran twice"
    assert rec["ticks_fired"] == len(pipes) and rec["ticks_missed"] == 0
    assert [p.id for p in pipes] == [tick_pipeline_id(schedule.id, t) for t in ticks]
    assert rec["last_pipeline_id"] == pipes[-1].id and rec["last_task_id"] is None
    for p in pipes:
        done = client.service.pipelines.wait(p.id, client.user_id, 60)
        assert done.status is PipelineStatus.COMPLETED, (done.id, [(x.id, x.status, x.error) for x in done.steps])
        assert [s.task_id for s in done.steps] == [step_task_id(p.id, "a"), step_task_id(p.id, "b")]
        tasks = [t for t in client.service.store.list(user_id=client.user_id, limit=10_000)
                 if t.metadata.get("pipeline_id") == p.id]
        assert sorted(t.id for t in tasks) == sorted(s.task_id for s in done.steps)
        assert all(t.metadata["schedule"]["id"] == schedule.id for t in tasks)
    return pipes


def test_every_second_starts_one_pipeline_per_tick(sched_client):
    s = sched_client.schedule(pipeline=STEPS, cron="* * * * * *", name="pipeline each second")
    assert s.record["target"]["pipeline"]["steps"][1]["input"]["prompt"] == {"$ref": "a.input.prompt"}
    wait_for(lambda: fired(s) >= 3)
    pipes = check_once_per_tick(sched_client, s)
    assert steps([tick_of(p) for p in pipes]) == [SECOND] * (len(pipes) - 1)
    last = s.last_pipeline()
    assert last is not None and last.id == pipes[-1].id
    assert last.steps["b"].result(timeout=30).input["prompt"] == NOOP["prompt"]  # the reference was resolved
    s.delete()


def test_a_one_time_pipeline_through_the_tagged_target(sched_client):
    from datetime import UTC

    at = datetime.now(UTC) + timedelta(seconds=1.5)
    s = sched_client.schedule(target={"pipeline": {"steps": STEPS, "metadata": {"origin": "test"}}}, at=at)
    wait_for(lambda: s.refresh().state == "done", timeout=20)
    [p] = schedule_pipelines(sched_client, s.id)
    assert tick_of(p) == at and p.id == tick_pipeline_id(s.id, at)
    assert p.metadata["origin"] == "test"
    assert sched_client.service.pipelines.wait(p.id, sched_client.user_id, 30).status is PipelineStatus.COMPLETED


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_between_creating_a_ticks_pipeline_and_advancing(request, backend):
    sched_client = request.getfixturevalue("sched_client" if backend == "sqlite" else "pg_sched_client")
    s = sched_client.schedule(pipeline=STEPS, cron="* * * * * *", misfire_grace_seconds=120)
    trigger = sched_client.settings.fault_kill_file
    wait_for(lambda: fired(s) >= 2)
    trigger.write_text(f"schedule:{s.id}")
    # the next tick's pipeline was created (its first step submitted), then the process died
    wait_for(lambda: not trigger.exists(), timeout=20)
    before = fired(s)
    wait_for(lambda: fired(s) >= before + 3, timeout=180)  # the restarted Scheduler goes on
    pipes = check_once_per_tick(sched_client, s)
    # within the grace every tick runs on its own: consecutive seconds, none twice, none lost
    assert steps([tick_of(p) for p in pipes]) == [SECOND] * (len(pipes) - 1)
    assert not any(p.metadata["schedule"]["catch_up"] for p in pipes)
    s.delete()


def test_every_second_into_a_poison_pipeline_leaves_none_running(sched_client):
    """A reference that can never give a valid value (a path out of the artifact root, read as a
    file): each tick's pipeline fails with ``invalid_reference``; none is left running."""
    from videoai_ray.artifacts import ArtifactStore

    root = ArtifactStore(sched_client.settings.artifacts_root).root
    poison = [step("a", "subtitle_generation", text=f"{root}/../videoai.db", provider="noop", use_cache=False),
              step("b", "video_generation", prompt="v", subtitles_url=ref("a.input.text"), provider="noop")]
    s = sched_client.schedule(pipeline=poison, cron="* * * * * *", name="poison each second")
    wait_for(lambda: fired(s) >= 3)
    s.pause()
    wait_for(lambda: fired(s) == len(schedule_pipelines(sched_client, s.id)), timeout=10)
    wait_for(lambda: all(p.done for p in schedule_pipelines(sched_client, s.id)), timeout=60)
    pipes = schedule_pipelines(sched_client, s.id)
    assert len(pipes) >= 3
    for p in pipes:
        assert p.status is PipelineStatus.FAILED and p.error is not None, p
        assert (p.error["step"], p.error["code"], p.error["reference"]) == ("b", "invalid_reference", "a.input.text")
        assert root.removeprefix("file://") not in p.error["message"]
    s.delete()
