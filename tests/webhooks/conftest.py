"""Fixtures for the webhook tests (helpers live in ``receiver``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from receiver import Receiver

from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def wh_settings(settings: Settings) -> Settings:
    """Short retries and timeouts; 127.0.0.1 allowed; a unique instance (its own dispatcher)."""
    return Settings(
        home=settings.home,
        database_url=None,
        redis_url=None,
        url_allowlist=("127.0.0.1", "localhost"),
        retry_schedule=(0.1, 0.2, 0.3),
        webhook_timeout=2.0,
        webhook_max_attempts=5,
        webhook_max_age=60.0,
        instance="wh" + uuid.uuid4().hex[:12],
    )


@pytest.fixture
def store(wh_settings: Settings) -> Iterator[TaskStore]:
    s = TaskStore(wh_settings.db_url, instance=wh_settings.instance)
    yield s
    s.close()
