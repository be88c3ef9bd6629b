"""Helpers of the pipeline tests (a module of its own, not ``conftest``, so tests can import it):
the test providers steps pin themselves to, a step builder, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import videoai_ray as vai
from videoai_ray.errors import InvalidInput
from videoai_ray.providers.testing import FixedLatencyProvider, FlakyProvider, NoopProvider


def pipe_providers(done: Path) -> list[vai.Provider]:
    return [
        NoopProvider(),
        FixedLatencyProvider(0.1, 4, name="lat", log_dir=done),
        FixedLatencyProvider(2.5, 2, name="slow", log_dir=done),
        FixedLatencyProvider(60.0, 2, name="park"),  # runs until it is cancelled
        FlakyProvider(99, InvalidInput("the prompt is not acceptable"), name="perm", latency=0.05),
        FlakyProvider(1, name="flaky1", latency=0.05, log_dir=done),
    ]


def img(step_id: str, prompt: Any, provider: str = "lat", **kw: Any) -> dict[str, Any]:
    """An image step pinned to a test provider (no cache: every run really runs)."""
    return vai.step(step_id, "image_generation", prompt=prompt, provider=provider, use_cache=False, **kw)


def done_count(done: Path, task_id: str) -> int:
    return len(list(done.glob(f"{task_id}.*.done")))


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
