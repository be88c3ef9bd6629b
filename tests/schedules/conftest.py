"""Schedulers of their own for the schedule tests (on the session's Ray; SQLite, and PostgreSQL for
the fault tests), with the fault trigger armed by file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import videoai_ray as vai
from videoai_ray.providers.testing import FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


def _start(home: Path, instance: str, database_url: str | None = None) -> vai.Client:
    # every-second crons: the tests need ticks quickly (the default minimum interval is 60 s)
    settings = vai.Settings(home=home, instance=instance, prefetch=0, retry_schedule=(0.2, 0.4),
                            fault_kill_file=home / "kill", database_url=database_url,
                            schedule_min_interval_seconds=1)
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
