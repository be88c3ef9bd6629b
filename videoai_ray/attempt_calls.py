"""The calls an attempt makes to the Scheduler besides reporting (``reporting.py``): recording its
remote job, passing the rate gate; and cancelling a recorded remote job from anywhere."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import ray

from .providers.base import Provider
from .providers.context import JobRecorder
from .providers.remote_job import RemoteJob
from .reporting import SchedulerLink

log = logging.getLogger("videoai.executor")


async def pass_rate_gate(scheduler: SchedulerLink, task_id: str, attempt: int) -> None:
    """Wait for the Scheduler's ``rate_gate``; if the Scheduler cannot be reached (it restarts),
    go on: its dispatch already paced this attempt."""
    try:
        await scheduler.handle.rate_gate.remote(task_id, attempt)
    except Exception:
        log.warning("rate gate of %s unreachable; starting without it", task_id, exc_info=True)


def job_recorder(scheduler: SchedulerLink, task_id: str, attempt: int, timeout: float) -> JobRecorder:
    """``ctx.record_remote_job`` through the Scheduler, which returns once the job is committed
    in the task's row. While the Scheduler restarts (or is replaced: the current one is looked up
    by name) the call is sent again (a new one adopts this attempt first), for as long as the
    attempt may run; after that the error propagates and the provider cancels the job it cannot
    record."""

    async def record(job: RemoteJob) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            try:
                return bool(await scheduler.handle.record_remote_job.remote(task_id, attempt, job.to_json()))
            except Exception:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("could not record remote job %s of %s; retrying in %.1fs", job.id, task_id, delay)
                await asyncio.sleep(delay)
                await scheduler.refresh()
                delay = min(delay * 2, 5.0)

    return record


async def cancel_remote_job(provider: Provider, job: dict[str, Any]) -> None:
    """``provider.cancel_remote_job`` for a stored job, logged and never raised."""
    parsed = RemoteJob.from_json(job)
    if parsed is None:
        return
    try:
        await provider.cancel_remote_job(parsed)
        log.info("cancelled remote job %s at %s", parsed.id, provider.name)
    except Exception:  # the job may be finished or gone already; nothing more can be done
        log.warning("could not cancel remote job %s at %s", parsed.id, provider.name, exc_info=True)


@ray.remote(num_cpus=0, max_retries=0)
def cancel_remote_job_task(provider: Provider, job: dict[str, Any]) -> None:
    """``cancel_remote_job`` as a Ray task (the task was cancelled while no attempt of it ran)."""
    asyncio.run(cancel_remote_job(provider, job))


__all__ = ["cancel_remote_job", "cancel_remote_job_task", "job_recorder", "pass_rate_gate"]
