"""Running a provider by hand in a test: a real ``AttemptContext`` whose progress is recorded and
whose cancelled flag the test controls, and reading back the artifacts it wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from videoai_ray.artifacts import ArtifactStore
from videoai_ray.providers.context import AttemptContext
from videoai_ray.settings import Settings


@dataclass
class Recorder:
    """Progress reports of one attempt, and a switch that cancels it."""

    values: list[float] = field(default_factory=list)
    messages: list[str | None] = field(default_factory=list)
    cancel: bool = False
    cancel_when: Callable[[Recorder], bool] | None = None

    def __call__(self, value: float, message: str | None) -> None:
        self.values.append(value)
        self.messages.append(message)

    def cancelled(self) -> bool:
        return self.cancel or bool(self.cancel_when and self.cancel_when(self))


MakeCtx = Callable[..., tuple[AttemptContext, Recorder]]


def context_factory(settings: Settings) -> Iterator[MakeCtx]:
    """``make_ctx(task_id="task_x", cancel_when=None, settings=None)``: a context (progress
    unthrottled) plus its recorder; ``cancel_when(recorder)`` is polled as the cancelled flag.
    Every context made is closed when the generator resumes."""
    made: list[AttemptContext] = []

    def factory(task_id: str = "task_x", cancel_when: Callable[[Recorder], bool] | None = None,
                settings: Settings | None = None) -> tuple[AttemptContext, Recorder]:
        rec = Recorder(cancel_when=cancel_when)
        ctx = AttemptContext(task_id, 1, settings or default, on_progress=rec, is_cancelled=rec.cancelled,
                             progress_interval=0.0)
        made.append(ctx)
        return ctx, rec

    default = settings
    yield factory
    for ctx in made:
        ctx.close()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one provider call on a fresh event loop (as a worker would)."""
    return asyncio.run(coro)


def upload(settings: Settings, path: Path, user: str = "") -> str:
    """``path`` uploaded as the SDK does, for ``user`` (a context's default user is ``""``)."""
    return ArtifactStore(settings.artifacts_root).put_upload(user, path)


def artifact_path(url: str) -> Path:
    """The local file behind a ``file://`` artifact URL."""
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))
