"""One Scheduler for the pipeline tests (its own instance on the session's Ray), with test
providers each step pins itself to (helpers: ``pipeline_steps``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_steps import pipe_providers

import videoai_ray as vai
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="session")
def pipe_done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test providers write one file per completed attempt (``<task id>.<attempt>.done``)."""
    return tmp_path_factory.mktemp("pipe-done")


@pytest.fixture(scope="session")
def pipe_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory, pipe_done: Path) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("pipe-home"), instance="t-pipes", prefetch=0,
                            retry_schedule=(0.2, 0.4, 0.8), url_allowlist=("127.0.0.1", "localhost"),
                            webhook_timeout=2.0, webhook_progress_interval=0,
                            schedule_min_interval_seconds=1)  # the claims test fires schedules every second
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=pipe_providers(pipe_done))
    yield client
    kill_scheduler(settings)
