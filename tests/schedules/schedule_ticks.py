"""Helpers for the schedule tests: wait for a condition, and read the tasks a schedule created.
(A module of its own, not ``conftest``, so tests can import it.)"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import videoai_ray as vai
from videoai_ray.models import Task


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
