"""Fixtures for the local provider tests: a real ``AttemptContext`` that records progress."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_helpers import MakeCtx, ctx_factory

from videoai_ray.settings import Settings


@pytest.fixture
def make_ctx(settings: Settings) -> Iterator[MakeCtx]:
    """``make_ctx(task_id, cancel_when=None)``: an ``AttemptContext`` plus its progress recorder;
    ``cancel_when(recorder)`` is polled as the task's cancelled flag."""
    yield from ctx_factory(settings)
