"""Never pay twice: the Scheduler's side of recorded remote jobs.

A provider whose work runs as a paid job at a remote service records the job through its worker
(``ctx.record_remote_job``) as soon as the remote side answers; ``record`` here puts it into the
task's row (the actor returns only after the commit). The row keeps it until the job is over
(the attempt says so) or the task is cancelled, so the next attempt after a crash of a worker,
this Scheduler or the whole app re-attaches to that job on that provider instead of creating
another; a cancel cancels it at the provider.
"""

from __future__ import annotations

import logging
from typing import Any

from ..attempt_calls import cancel_remote_job_task
from ..models.record import Active
from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")


class RemoteJobs:
    """Recording, forgetting and cancelling the remote job of a task."""

    def __init__(self, state: SchedulerState) -> None:
        self.state = state

    def record(self, task_id: str, attempt: int, job: dict[str, Any]) -> bool:
        """Keep the job an attempt just created (the caller waits for the write); ``False`` when
        the task no longer wants it (finished, cancelled, or a newer attempt runs), and the
        provider cancels it."""
        act = self.state.active.get(task_id)
        if act is None or attempt < act.attempts:
            log.warning("task %s attempt %d: remote job %s is not wanted (task %s)", task_id, attempt,
                        job.get("id"), "gone" if act is None else f"at attempt {act.attempts}")
            return False
        act.remote_job = job
        self.state.change(task_id, remote_job=job)
        return True

    def forget(self, act: Active) -> None:
        if act.remote_job is not None:
            act.remote_job = None
            self.state.change(act.id, remote_job=None)

    def cancel(self, act: Active) -> None:
        """The task was cancelled: cancel its recorded job at the provider, from a Ray task (no
        worker needed; also when an attempt runs, which cancels it too: the providers' cancel
        calls are idempotent)."""
        job = act.remote_job
        if job is None:
            return
        self.forget(act)
        name = str(job.get("provider") or "")
        if name in self.state.registry:
            # the owner picks the key the cancel is sent with (a tenant's own)
            cancel_remote_job_task.remote(self.state.registry.get(name), {**job, "owner": act.user_id})
        else:
            log.warning("task %s: remote job %s of unregistered provider %r cannot be cancelled",
                        act.id, job.get("id"), name)


def job_provider(act: Active, names: list[str]) -> list[str]:
    """The candidates of an attempt: only the provider holding the task's recorded job, when it
    can still serve it (re-attaching is free; another provider would pay again)."""
    name = (act.remote_job or {}).get("provider")
    return [name] if name in names else names


__all__ = ["RemoteJobs", "job_provider"]
