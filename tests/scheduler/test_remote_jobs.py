"""Never pay twice, end to end: RunwayML, Pika (through fal.ai's queue) and AssemblyAI against a
local server speaking their protocols (``remote_job_server``), counting the remote jobs created.

Each scenario holds one task's attempt at a fault point (``videoai_ray.fault_points``), kills a
worker, the Scheduler or the whole app there, lets it go, and checks that the task completed and
how many remote jobs were created for it: exactly one at every point, except that a worker (or
the whole app) that dies between the remote side's answer and the commit of its record leaves
that job unknown, and the next attempt creates a second one (none of these APIs documents an
idempotency key that would close that window)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ray
from actors import pid_of, restart_scheduler, wait_dead, wait_for, worker_of
from pydantic import SecretStr
from remote_job_server import RemoteFakes

import videoai_ray as vai
from videoai_ray.models import TaskStatus
from videoai_ray.providers.cloud import AssemblyAITranscriptionProvider, PikaVideoProvider, RunwayVideoProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.store import TaskStore

pytestmark = pytest.mark.slow

POLL = 0.05


@dataclass
class App:
    """The app under test; ``restart`` builds it again after a kill of everything."""

    settings: vai.Settings
    fakes: RemoteFakes
    client: vai.Client

    def providers(self) -> list[Any]:
        s, url = self.settings, self.fakes.url
        return [RunwayVideoProvider(s, base_url=url, poll_interval=POLL),
                PikaVideoProvider(s, base_url=url, poll_interval=POLL),
                AssemblyAITranscriptionProvider(s, base_url=url, poll_interval=POLL)]

    def restart(self) -> None:
        self.client = vai.connect(settings=self.settings, providers=self.providers())

    @property
    def faults(self) -> Path:
        assert self.settings.fault_pause_dir is not None
        return self.settings.fault_pause_dir


@pytest.fixture(scope="module")
def app(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home = tmp_path_factory.mktemp("remote-jobs")
    (home / "faults").mkdir()
    fakes = RemoteFakes().start()
    settings = vai.Settings(home=home, instance="t-remote-jobs", prefetch=0, retry_schedule=(0.2, 0.4, 0.8),
                            fault_pause_dir=home / "faults", url_allowlist=("127.0.0.1",),
                            runwayml_api_secret=SecretStr("key_test_runway_0123456789abcdef"),
                            fal_key=SecretStr("test-fal-id:test-fal-secret"),
                            assemblyai_api_key=SecretStr("test-assemblyai-key-0123456789"))
    kill_scheduler(settings)
    a = App(settings, fakes, None)  # type: ignore[arg-type]
    a.restart()
    yield a
    kill_scheduler(settings)
    fakes.stop()
    assert not fakes.violations, fakes.violations


def submit(app: App, provider: str, tag: str, tmp_path: Path) -> str:
    c = app.client
    if provider == "assemblyai":
        audio = tmp_path / f"{tag}.wav"
        audio.write_bytes(b"RIFF" + tag.encode() * 16)
        return c.audio.transcribe(file=str(audio), provider=provider, use_cache=False).id
    return c.videos.generate(prompt=f"waves {tag}", duration=5, resolution="720p", provider=provider,
                             use_cache=False).id


def kill(app: App, how: str, provider: str) -> None:
    if how == "worker":
        worker = worker_of(app.settings.instance, provider)
        pid = pid_of(worker)
        ray.kill(worker)
        wait_dead(pid)
    elif how == "scheduler":
        restart_scheduler(app.settings)  # Ray restarts it; it recovers from the store
    else:  # the whole app: Scheduler and workers, for good; then it starts again
        worker = worker_of(app.settings.instance, provider)
        pid = pid_of(worker)
        kill_scheduler(app.settings)
        wait_dead(pid)


SCENARIOS = [
    # (provider, fault point, what dies there, remote jobs created)
    ("runway", "attempt_started", "worker", 1),
    ("runway", "job_created", "worker", 2),  # the window: created, not yet recorded
    ("runway", "job_recorded", "worker", 1),
    ("runway", "polling", "worker", 1),
    ("runway", "result_ready", "worker", 1),
    ("runway", "attempt_started", "scheduler", 1),
    ("runway", "job_created", "scheduler", 1),  # the worker lives: its record reaches the next Scheduler
    ("runway", "job_recorded", "scheduler", 1),
    ("runway", "polling", "scheduler", 1),
    ("runway", "result_ready", "scheduler", 1),
    ("runway", "job_created", "app", 2),
    ("runway", "polling", "app", 1),
    ("pika", "job_recorded", "worker", 1),
    ("pika", "result_ready", "worker", 1),
    ("pika", "job_created", "scheduler", 1),
    ("pika", "polling", "app", 1),
    ("assemblyai", "polling", "worker", 1),
    ("assemblyai", "result_ready", "worker", 1),
    ("assemblyai", "job_recorded", "app", 1),
]


@pytest.mark.parametrize(("provider", "point", "how", "created"), SCENARIOS,
                         ids=[f"{p}-{pt}-{h}" for p, pt, h, _ in SCENARIOS])
def test_a_crash_at_every_point_of_an_attempt_pays_once(app: App, tmp_path: Path, provider: str, point: str,
                                                        how: str, created: int) -> None:
    app.fakes.reset()
    (app.faults / f"{point}.arm").touch()
    task_id = submit(app, provider, f"{point}-{how}", tmp_path)
    paused = app.faults / f"{point}.{task_id}.paused"
    wait_for(paused.exists, what=f"the attempt at {point}")
    try:
        kill(app, how, provider)
    finally:
        paused.unlink()  # let it go (a killed attempt is gone anyway; a failed kill holds nothing)
    if how == "app":
        app.restart()
    task = app.client.get(task_id)
    wait_for(lambda: app.client.get(task_id).status.terminal, timeout=90, what="the task's end")
    task = app.client.get(task_id)
    assert task.status is TaskStatus.COMPLETED, task.error
    assert len(app.fakes.creations) == created, app.fakes.creations
    assert app.fakes.cancels == []
    assert task.attempts == (1 if how == "scheduler" else 2)
    job_key = {"runway": "runway_task_id", "pika": "fal_request_id", "assemblyai": "transcript_id"}[provider]
    assert task.output["metadata"][job_key] == app.fakes.creations[-1]


def test_cancelling_a_task_cancels_its_recorded_job(app: App, tmp_path: Path) -> None:
    # the attempt is held before a status read: only the Scheduler can cancel the job now
    app.fakes.reset()
    (app.faults / "polling.arm").touch()
    fut = app.client.videos.generate(prompt="cancel me", duration=5, resolution="720p", provider="runway",
                                     use_cache=False)
    paused = app.faults / f"polling.{fut.id}.paused"
    wait_for(paused.exists, what="the attempt at polling")
    store = TaskStore(app.settings.db_url, migrate=False)
    try:
        assert store.in_flight_fields([fut.id])[fut.id]["remote_job"]["id"] == app.fakes.creations[0]
        fut.cancel()
        wait_for(lambda: app.fakes.cancels == app.fakes.creations, what="the remote cancel")
        assert fut.status is TaskStatus.CANCELLED
        wait_for(lambda: store.in_flight_fields([fut.id])[fut.id]["remote_job"] is None, what="the record forgotten")
    finally:
        store.close()
        paused.unlink()


def test_a_worker_that_died_idle_costs_the_next_task_no_attempt(app: App, tmp_path: Path) -> None:
    app.fakes.reset()
    warm = submit(app, "runway", "warm-up", tmp_path)  # a worker for runway exists, idle after this
    wait_for(lambda: app.client.get(warm).status.terminal, timeout=90, what="the warm-up task's end")
    worker = worker_of(app.settings.instance, "runway")
    pid = pid_of(worker)
    ray.kill(worker)
    wait_dead(pid)
    time.sleep(5)  # the Scheduler pings every worker each second, idle ones too, and drops a dead one
    task_id = submit(app, "runway", "after an idle death", tmp_path)
    wait_for(lambda: app.client.get(task_id).status.terminal, timeout=90, what="the task's end")
    task = app.client.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 1, task
