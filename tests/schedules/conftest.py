"""A Scheduler of its own for the schedule tests (on the session's Ray), with the fault trigger
armed by file, and helpers to read the tasks a schedule created."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

import videoai_ray as vai
from videoai_ray.models import Task
from videoai_ray.providers.testing import FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="module")
def sched_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    home = tmp_path_factory.mktemp("sched-home")
    settings = vai.Settings(home=home, instance="t-sched", prefetch=0, retry_schedule=(0.2, 0.4),
                            fault_kill_file=home / "kill")
    kill_scheduler(settings)
    client = vai.connect(settings=settings, providers=[NoopProvider(), FixedLatencyProvider(0.05, 8, name="lat")])
    yield client
    kill_scheduler(settings)


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def schedule_tasks(client: vai.Client, schedule_id: str) -> list[Task]:
    """The tasks a schedule created, oldest tick first."""
    tasks = [t for t in client.service.store.list(user_id=client.user_id, limit=10_000)
             if (t.metadata.get("schedule") or {}).get("id") == schedule_id]
    return sorted(tasks, key=lambda t: t.metadata["schedule"]["tick"])


def ticks_of(tasks: list[Task]) -> list[datetime]:
    return [datetime.fromisoformat(t.metadata["schedule"]["tick"]) for t in tasks]


def steps(ticks: list[datetime]) -> list[timedelta]:
    """The time between each tick and the next."""
    return [b - a for a, b in itertools.pairwise(ticks)]


NOOP = {"prompt": "tick", "provider": "noop", "use_cache": False}
