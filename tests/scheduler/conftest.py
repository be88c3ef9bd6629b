from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import videoai_ray as vai
from videoai_ray.errors import InvalidInput, RateLimited
from videoai_ray.models import TaskType
from videoai_ray.providers.testing import (
    CpuSleepProvider,
    FixedLatencyProvider,
    FlakyProvider,
    LoopBlockingProvider,
    NoopProvider,
    OutputProvider,
)
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


@contextlib.contextmanager
def own_schema(pg_url: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL schema of its own, dropped afterwards; yields the URL that uses it."""
    from sqlalchemy import create_engine, text

    base = vai.Settings(database_url=pg_url).db_url
    schema = prefix + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The fault suite's store: a SQLite file (``None``: the data folder's), or a PostgreSQL
    schema of its own, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    with own_schema(request.getfixturevalue("pg_url"), "faults_") as url:
        yield url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A PostgreSQL schema of the test's own (dropped afterwards); yields its URL."""
    with own_schema(pg_url, "outage_") as url:
        yield url


#: what the fault suite's poison providers return
POISON = {"tags": {"a", "b"}}
MAX_OUTPUT = 100_000  # test_faults checks the message names it


@pytest.fixture(scope="module")
def fault_engine(ray_session: None, db_url: str | None, tmp_path_factory: pytest.TempPathFactory,
                 done_dir: Path) -> Iterator[vai.Client]:
    """One Scheduler per store back end, with the providers the fault tests pin tasks to."""
    home = tmp_path_factory.mktemp("fault-home")
    backend = "pg" if db_url else "sqlite"
    settings = vai.Settings(home=home, instance=f"t-faults-{backend}", database_url=db_url,
                            retry_schedule=(0.2, 0.4, 0.8), prefetch=0, max_output_bytes=MAX_OUTPUT,
                            fault_kill_file=home / "kill-before-write")
    kill_scheduler(settings)
    providers = [
        NoopProvider(),
        FixedLatencyProvider(0.05, 8, name="lat", log_dir=done_dir),
        FixedLatencyProvider(3.0, 1, name="slow", log_dir=done_dir),
        CpuSleepProvider(1.5, 2, name="cpu", log_dir=done_dir),
        OutputProvider(POISON, name="poison"),
        OutputProvider({"score": float("nan")}, name="nan"),
        OutputProvider({}, name="huge", pad=2 * MAX_OUTPUT),
        LoopBlockingProvider(40.0, 2.0, latency=1.0, max_concurrency=2, name="blocker", log_dir=done_dir),
    ]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)
