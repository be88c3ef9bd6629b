"""The polling loop every queued-job adapter (RunwayML, fal.ai, AssemblyAI) shares: transient
failures waited out, the remote job cancelled when our task is cancelled or times out, and left
running (recorded, for the next attempt to re-attach to) when the status reads keep failing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from attempt_context import MakeCtx, run
from fake_answers import BASES

from videoai_ray.errors import ProviderTimeout, RateLimited, RetryableError
from videoai_ray.providers.cloud import RunwayVideoProvider
from videoai_ray.settings import Settings


def _provider(settings: Settings, **kw: Any) -> RunwayVideoProvider:
    return RunwayVideoProvider(settings, base_url=BASES["runway"], poll_interval=0.01, **kw)


def test_poll_tolerates_a_few_transient_failures(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    ctx, _ = make_ctx()
    outcomes: list[Any] = [RetryableError("blip"), RateLimited("slow", retry_after=0.02), None, "done"]
    cancels: list[int] = []

    async def check() -> str | None:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def cancel() -> None:
        cancels.append(1)

    assert run(_provider(cloud_settings).poll(ctx, check, cancel, what="job")) == "done"
    assert not cancels


def test_poll_gives_up_after_repeated_failures_and_keeps_the_job(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    # the job may still be running: cancelling it would make the retry pay for a second one,
    # so it stays recorded and the next attempt re-attaches to it
    ctx, _ = make_ctx()
    run(ctx.record_remote_job("job-1"))
    cancels: list[int] = []

    async def check() -> None:
        raise RetryableError("down")

    async def cancel() -> None:
        cancels.append(1)

    with pytest.raises(RetryableError, match="down"):
        run(_provider(cloud_settings).poll(ctx, check, cancel, what="job"))
    assert cancels == []
    assert ctx.remote_job is not None and ctx.remote_job.id == "job-1" and not ctx.remote_job_over


def test_poll_cancels_the_remote_job_when_the_task_is_cancelled(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    ctx, rec = make_ctx()
    cancels: list[int] = []
    polls: list[int] = []

    async def check() -> None:
        polls.append(1)
        if len(polls) == 3:
            rec.cancel = True

    async def cancel() -> None:
        cancels.append(1)

    with pytest.raises(asyncio.CancelledError):
        run(_provider(cloud_settings).poll(ctx, check, cancel, what="job"))
    assert cancels == [1] and len(polls) == 3
    assert ctx.remote_job_over  # a cancelled job is over: nothing re-attaches to it


def test_poll_cancels_the_remote_job_on_asyncio_cancellation(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    ctx, _ = make_ctx()
    cancels: list[int] = []

    async def check() -> None:
        return None

    async def cancel() -> None:
        await asyncio.sleep(0.01)  # the cancel call itself must be allowed to finish
        cancels.append(1)

    async def scenario() -> None:
        task: asyncio.Future[Any] = asyncio.ensure_future(
            _provider(cloud_settings).poll(ctx, check, cancel, what="job")
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert cancels == [1]


def test_poll_times_out_and_cancels_the_job(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    ctx, _ = make_ctx()
    cancels: list[int] = []
    provider = _provider(cloud_settings)
    provider.timeout = 0.05  # type: ignore[misc]

    async def check() -> None:
        return None

    async def cancel() -> None:
        cancels.append(1)

    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        run(provider.poll(ctx, check, cancel, what="job"))
    assert cancels == [1] and time.monotonic() - started < 1.0
    assert ctx.remote_job_over
