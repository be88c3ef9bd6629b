"""One Scheduler for the pipeline tests (its own instance on the session's Ray), with test
providers each step pins itself to, and helpers to build steps and specs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import videoai_ray as vai
from videoai_ray.errors import InvalidInput
from videoai_ray.providers.testing import FixedLatencyProvider, FlakyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="session")
def pipe_done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test providers write one file per completed attempt (``<task id>.<attempt>.done``)."""
    return tmp_path_factory.mktemp("pipe-done")


def pipe_providers(done: Path) -> list[vai.Provider]:
    return [
        NoopProvider(),
        FixedLatencyProvider(0.1, 4, name="lat", log_dir=done),
        FixedLatencyProvider(2.5, 2, name="slow", log_dir=done),
        FlakyProvider(99, InvalidInput("the prompt is not acceptable"), name="perm", latency=0.05),
        FlakyProvider(1, name="flaky1", latency=0.05, log_dir=done),
    ]


@pytest.fixture(scope="session")
def pipe_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory, pipe_done: Path) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("pipe-home"), instance="t-pipes", prefetch=0,
                            retry_schedule=(0.2, 0.4, 0.8), url_allowlist=("127.0.0.1", "localhost"),
                            webhook_timeout=2.0, webhook_progress_interval=0)
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=pipe_providers(pipe_done))
    yield client
    kill_scheduler(settings)


def img(step_id: str, prompt: Any, provider: str = "lat", **kw: Any) -> dict[str, Any]:
    """An image step pinned to a test provider (no cache: every run really runs)."""
    return vai.step(step_id, "image_generation", prompt=prompt, provider=provider, use_cache=False, **kw)


def done_count(done: Path, task_id: str) -> int:
    return len(list(done.glob(f"{task_id}.*.done")))


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
