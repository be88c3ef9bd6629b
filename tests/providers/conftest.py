"""Fixtures shared by the local and cloud provider tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from attempt_context import MakeCtx, context_factory

from videoai_ray.settings import Settings


@pytest.fixture
def ctx_settings(settings: Settings) -> Settings:
    """The settings ``make_ctx`` gives its contexts (the cloud tests add fake keys)."""
    return settings


@pytest.fixture
def make_ctx(ctx_settings: Settings) -> Iterator[MakeCtx]:
    """``make_ctx(task_id="task_x", cancel_when=None, settings=None)``: a real ``AttemptContext``
    and its progress recorder (see ``attempt_context.context_factory``)."""
    yield from context_factory(ctx_settings)
