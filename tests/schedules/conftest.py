"""Schedulers of their own for the schedule tests (on the session's Ray; SQLite, and PostgreSQL for
the fault tests), with the fault trigger armed by file, and helpers to read the tasks a schedule
created."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import videoai_ray as vai
from videoai_ray.models import Task
from videoai_ray.providers.testing import FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


def _start(home: Path, instance: str, database_url: str | None = None) -> vai.Client:
    settings = vai.Settings(home=home, instance=instance, prefetch=0, retry_schedule=(0.2, 0.4),
                            fault_kill_file=home / "kill", database_url=database_url)
    kill_scheduler(settings)
    return vai.connect(settings=settings, providers=[NoopProvider(), FixedLatencyProvider(0.05, 8, name="lat")])


@pytest.fixture(scope="module")
def sched_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    """A Scheduler on a SQLite file, with the fault trigger armed by file."""
    client = _start(tmp_path_factory.mktemp("sched-home"), "t-sched")
    yield client
    kill_scheduler(client.settings)


@pytest.fixture(scope="module")
def pg_sched_client(ray_session: None, pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    """The same on a PostgreSQL schema of its own (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    base = vai.Settings(database_url=pg_url).db_url
    schema = "sched_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    client = _start(tmp_path_factory.mktemp("sched-pg-home"), "t-sched-pg", f"{base}?options=-csearch_path%3D{schema}")
    yield client
    kill_scheduler(client.settings)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


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
