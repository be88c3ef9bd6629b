"""Helpers for the local provider tests: progress recorder, artifact paths, the ctx factory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from videoai_ray.providers.context import AttemptContext
from videoai_ray.settings import Settings

SPEECH = Path(__file__).resolve().parents[2] / "data" / "speech"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Recorder:
    """Collects every progress report (the context's throttle is disabled)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str | None] = []

    def __call__(self, value: float, message: str | None) -> None:
        self.values.append(value)
        self.messages.append(message)


def artifact_path(url: str) -> Path:
    """The local file behind a ``file://`` artifact URL."""
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


def run(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    return asyncio.run(coro)


MakeCtx = Callable[..., tuple[AttemptContext, Recorder]]


def ctx_factory(settings: Settings) -> Iterator[MakeCtx]:
    """``make_ctx(task_id, cancel_when=None)``: a context plus its progress recorder.

    ``cancel_when(recorder)`` is polled as the task's cancelled flag.
    """
    made: list[AttemptContext] = []

    def factory(
        task_id: str = "task_x", cancel_when: Callable[[Recorder], bool] | None = None
    ) -> tuple[AttemptContext, Recorder]:
        rec = Recorder()
        ctx = AttemptContext(
            task_id,
            1,
            settings,
            on_progress=rec,
            is_cancelled=(lambda: cancel_when(rec)) if cancel_when else None,
            progress_interval=0.0,
        )
        made.append(ctx)
        return ctx, rec

    yield factory
    for ctx in made:
        ctx.close()
