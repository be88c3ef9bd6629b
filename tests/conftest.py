"""Shared fixtures: one real local Ray per test session, real SQLite files, and the machine's real
PostgreSQL and Redis (skipped with a reason on a laptop without them, a failure under ``CI=true``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_env import IN_CI

from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore

#: the loopback S3 server's fixtures (s3_server, s3_bucket), for every test folder
pytest_plugins = ["s3_loopback"]

PG_URL = os.environ.get("VIDEOAI_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VIDEOAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (laptop) or fail (CI) when a service the test needs is not listening."""
    if _port_open(host, port):
        return
    msg = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(msg + " (CI=true: services are required)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def pg_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return PG_URL


@pytest.fixture
def redis_url() -> Iterator[str]:
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    yield REDIS_URL
    r.flushdb()
    r.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data folder and a short retry schedule."""
    return Settings(
        home=tmp_path / "home",
        retry_schedule=(0.2, 0.4, 0.8),
        url_allowlist=("127.0.0.1", "localhost"),
        database_url=None,
        redis_url=None,
    )


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray instance for the whole test session."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",  # never join another Ray that happens to run on this machine
            num_cpus=2,
            include_dashboard=False,
            namespace="videoai-tests",
            log_to_driver=False,
            configure_logging=False,
        )
    yield
    ray.shutdown()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskStore]:
    """A migrated ``TaskStore`` on each back end: a fresh SQLite file, and a fresh schema (named
    after the test module) of the machine's PostgreSQL."""
    if request.param == "sqlite":
        store = TaskStore(f"sqlite:///{tmp_path}/t.db")
    else:
        from sqlalchemy import text

        schema = "videoai_" + request.module.__name__.rsplit(".", 1)[-1]
        url = request.getfixturevalue("pg_url").replace("postgresql://", "postgresql+psycopg://")
        bare = TaskStore(url, migrate=False)
        with bare.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        bare.engine.dispose()
        store = TaskStore(url + f"?options=-csearch_path%3D{schema}")
    yield store
    store.close()
