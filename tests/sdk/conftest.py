"""An engine for the SDK tests (widgets, frames): its own Scheduler instance on the shared Ray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import videoai_ray as vai
from videoai_ray.errors import InvalidInput
from videoai_ray.providers.testing import FixedLatencyProvider, FlakyProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="module")
def sdk_client(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    """Test providers only: ``noop``, ``lat`` (0.3 s with progress, $0.01), ``perm`` (always
    rejects its input)."""
    settings = vai.Settings(home=tmp_path_factory.mktemp("sdk-home"), instance="t-sdk", prefetch=0,
                            retry_schedule=(0.2, 0.4))
    kill_scheduler(settings)
    providers = [
        NoopProvider(),
        FixedLatencyProvider(0.3, 4, name="lat", cost=0.01),
        FlakyProvider(99, InvalidInput("not acceptable"), name="perm", latency=0.01),
    ]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)
