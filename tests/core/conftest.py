from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import videoai_ray as vai
from videoai_ray.errors import InvalidInput, RateLimited
from videoai_ray.models import TaskType
from videoai_ray.providers.testing import CpuSleepProvider, FixedLatencyProvider, FlakyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler

VIDEO = frozenset({TaskType.VIDEO_GENERATION})


@pytest.fixture(scope="module")
def done_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("done")


@pytest.fixture(scope="module")
def engine(ray_session: None, tmp_path_factory: pytest.TempPathFactory, done_dir: Path) -> Iterator[vai.Client]:
    """One Scheduler for the module, with test providers that each test pins its tasks to."""
    home = tmp_path_factory.mktemp("home")
    settings = vai.Settings(home=home, instance="t-engine", retry_schedule=(0.2, 0.4, 0.8), prefetch=0,
                            breaker_failures=5, breaker_cooldown=60, url_allowlist=("127.0.0.1",))
    kill_scheduler(settings)
    providers = [
        NoopProvider(),
        FixedLatencyProvider(0.05, 8, name="lat", log_dir=done_dir),
        FixedLatencyProvider(0.3, 1, name="one", log_dir=done_dir),
        FixedLatencyProvider(3.0, 1, name="slow", log_dir=done_dir),
        FlakyProvider(2, name="flaky2"),
        FlakyProvider(4, name="flaky4"),
        FlakyProvider(99, InvalidInput("the prompt is not acceptable"), name="perm"),
        FlakyProvider(1, RateLimited("slow down", retry_after=1.0), name="ratelimited"),
        FlakyProvider(99, name="bad-video", quality=0.9, task_types=VIDEO),
        FixedLatencyProvider(0.05, 4, name="good-video", quality=0.5, task_types=VIDEO),
        CpuSleepProvider(1.5, 2, name="cpu", log_dir=done_dir),
    ]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


@pytest.fixture
def done_files():
    """Completed attempts of a task, as recorded by the test providers (one file each)."""

    def files(done_dir: Path, task_id: str) -> list[Path]:
        return sorted(done_dir.glob(f"{task_id}.*.done"))

    return files
