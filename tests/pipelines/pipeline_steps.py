"""Helpers of the pipeline tests (a module of its own, not ``conftest``, so tests can import it):
the test providers steps pin themselves to, a step builder, waiting, and the HTTP app."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
from ray import cloudpickle

import videoai_ray as vai
from videoai_ray.errors import InvalidInput
from videoai_ray.providers import ProviderContext
from videoai_ray.providers.testing import (
    FixedLatencyProvider,
    FlakyProvider,
    InputReaderProvider,
    NoopProvider,
    OutputProvider,
)


class SubtitleReader(InputReaderProvider):
    """Reads a video request's inputs (subtitles too) and reports their digests: what a step
    could read is what it reports."""

    name = "reader"
    honours = frozenset({"audio_url", "subtitles_url"})


class GhostFile(FixedLatencyProvider):
    """Names a file of its own task's folder in its output, then deletes it (a file gone missing
    before the next step reads it)."""

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        art = ctx.store_artifact("gone.srt", b"1\n00:00:00,000 --> 00:00:01,000\nbye\n", "text/plain")
        Path(unquote(urlparse(art["url"]).path)).unlink()
        return {"subtitle_url": art["url"]}


# the Scheduler's processes cannot import this module: its providers travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def pipe_providers(done: Path) -> list[vai.Provider]:
    return [
        NoopProvider(),
        FixedLatencyProvider(0.1, 4, name="lat", log_dir=done),
        FixedLatencyProvider(2.5, 2, name="slow", log_dir=done),
        FixedLatencyProvider(60.0, 2, name="park"),  # runs until it is cancelled
        FlakyProvider(99, InvalidInput("the prompt is not acceptable"), name="perm", latency=0.05),
        FlakyProvider(1, name="flaky1", latency=0.05, log_dir=done),
        SubtitleReader(),
        GhostFile(0.01, 4, name="ghost"),
        OutputProvider({"images": ["first", "second"]}, name="images"),  # an output with a list in it
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


#: ``as_user(name, **claims)``: an HTTP client with a token for ``name`` (``weight=``, ``tenant=``...)
Call = Callable[..., httpx.AsyncClient]


def run_api(client: vai.Client, test: Callable[[Call], Awaitable[None]]) -> None:
    """Run ``test(as_user)`` against the app (in-process, on ``client``'s Scheduler)."""
    from videoai_ray.api.app import create_app
    from videoai_ray.api.auth import create_token
    from videoai_ray.api.context import ApiContext
    from videoai_ray.api.ratelimit import MemoryRateLimiter

    settings = client.settings
    ctx = ApiContext.start(settings, client.scheduler, MemoryRateLimiter())
    app = create_app(ctx)

    async def go() -> None:
        opened: list[httpx.AsyncClient] = []

        def as_user(user: str, **claims: Any) -> httpx.AsyncClient:
            token = create_token(settings, user, **claims)
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api/v1/media",
                                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
            opened.append(c)
            return c

        try:
            await test(as_user)
        finally:
            for c in opened:
                await c.aclose()

    asyncio.run(go())


async def finished(c: httpx.AsyncClient, pipeline_id: str, timeout: float = 60) -> dict[str, Any]:
    """The pipeline over HTTP once it ended (or as it is after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body = (await c.get(f"/pipelines/{pipeline_id}")).json()
        if body["status"] != "running" or loop.time() > deadline:
            return dict(body)
        await asyncio.sleep(0.2)
