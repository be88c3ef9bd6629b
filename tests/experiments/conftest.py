"""One Scheduler for the experiment tests, on the session's Ray, with test providers only:
``fast`` (0.05 s, $0.01), ``half`` (0.15 s, $0.02, fails half of its tasks for good, chosen by
task id: ``FailureRateProvider.fails``), ``subs`` (subtitles only) and ``noop``. Each test works
as users of its own (``make_client``), so one test's experiments never take another's tasks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from arms import FAST_COST, HALF_COST

import videoai_ray as vai
from videoai_ray.models import TaskType
from videoai_ray.providers.testing import FailureRateProvider, FixedLatencyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="session")
def exp_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("exp-home"), instance="t-exp", prefetch=0,
                            retry_schedule=(0.2, 0.4), max_retries=1, database_url=None, redis_url=None,
                            url_allowlist=("127.0.0.1", "localhost"))
    kill_scheduler(settings)
    providers = [
        NoopProvider(),
        FixedLatencyProvider(0.05, 8, name="fast", cost=FAST_COST),
        FailureRateProvider(0.5, latency=0.15, max_concurrency=8, name="half", cost=HALF_COST),
        FixedLatencyProvider(0.01, 4, name="subs", task_types=frozenset({TaskType.SUBTITLE_GENERATION})),
    ]
    client = vai.connect(settings=settings, providers=providers, user_id="exp-admin")
    yield client
    kill_scheduler(settings)


@pytest.fixture
def make_client(exp_client: vai.Client) -> Callable[[str], vai.Client]:
    """A client of the shared Scheduler for a user no other test uses (``prefix`` + a random id)."""

    def make(prefix: str = "u") -> vai.Client:
        return vai.Client(exp_client.settings, exp_client.scheduler, exp_client.service.store,
                          f"{prefix}-{uuid.uuid4().hex[:8]}")

    return make
