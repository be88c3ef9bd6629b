"""How tasks end and when they run again: the terminal move (``finish``), the retry policy
(``fail_or_retry``), and what an attempt's result does to its task (``settle``).

``on_finish`` is the place for anything that must follow a task into a terminal state (a
pipeline's next step, for example): each listener is called with the task's in-flight state, in
the Scheduler's event loop, once the terminal change is recorded (it is written at the next
flush, with the task's terminal webhook event).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .. import metrics
from ..clock import utcnow
from ..errors import DiskFull, ProviderError, RateLimited, WorkerLost, error_from_code
from ..models import TaskStatus
from ..models.events import STATUS_EVENTS
from ..models.record import Active
from ..placement import node_label
from ..protocol import AttemptResult
from .remote_jobs import RemoteJobs
from .retry_delay import retry_delay
from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")

#: called with a task that reached a terminal state (see the module's docstring)
FinishListener = Callable[[Active], None]


class Outcomes:
    """Terminal states, retries and attempt results, for every part of the Scheduler."""

    def __init__(self, state: SchedulerState, remote_jobs: RemoteJobs) -> None:
        self.state = state
        self.remote_jobs = remote_jobs
        self.on_finish: list[FinishListener] = []

    def finish(self, act: Active, status: TaskStatus, *, output: dict[str, Any] | None = None,
               error: ProviderError | None = None, cost: float | None = None, cache_hit: bool = False) -> None:
        """Move a task to a terminal state (written at the next flush). ``cache_hit``: its output
        comes from the result cache (it ran nowhere, cost nothing, and is not cached again)."""
        s = self.state
        s.active.pop(act.id, None)
        s.limiter.release(act.id)
        act.status = status
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow(),
                                  "finish_seq": s.next_finish_seq(), "next_attempt_at": None}
        if act.progress_message is not None:  # the result or the error says it all now
            act.progress_message = values["progress_message"] = None
        if status is TaskStatus.COMPLETED:
            # a completed row always says which attempt of which provider produced it, and when
            act.started_at = act.started_at or utcnow()
            values.update(output=output, progress=1.0, cost=cost, error_code=None, error_message=None,
                          error_retryable=None, attempts=act.attempts, provider=act.provider,
                          started_at=act.started_at)
            act.progress = 1.0
            if cache_hit:
                values["cache_hit"] = True
            elif s.cache is not None and act.options.get("use_cache", True):
                s.cache.put(act, output or {})
        if error is not None:
            values.update(error_code=error.code, error_message=error.message, error_retryable=error.retryable)
        s.change(act.id, **values)
        s.events.emit(act, STATUS_EVENTS[status], output=output, error=error)
        duration = (utcnow() - act.started_at).total_seconds() if act.started_at else None
        label = act.provider or ("cache" if cache_hit else "none")
        metrics.task_finished(act.type.value, label, status.value, 0.0 if cache_hit else duration, owner=act.user_id)
        for listener in self.on_finish:
            try:
                listener(act)
            except Exception:  # a listener's failure must not undo the task's end
                log.error("an on_finish listener failed for task %s", act.id, exc_info=True)

    def fail_or_retry(self, act: Active, err: ProviderError) -> None:
        """The retry policy: it reads only ``err.retryable``. A lost attempt (``WorkerLost``: its
        process died) runs again without counting against ``max_retries``, up to
        ``max_lost_attempts`` lost attempts, so a crash loop still ends."""
        s = self.state
        if isinstance(err, WorkerLost):
            act.lost += 1
            if act.lost > s.settings.max_lost_attempts:
                self.finish(act, TaskStatus.FAILED, error=_lost_too_often(act, err, s.settings.max_lost_attempts))
                return
        elif not err.retryable or act.attempts - act.lost > act.max_retries:
            self.finish(act, TaskStatus.FAILED, error=err)
            return
        if act.provider and not isinstance(err, WorkerLost):
            act.excluded.add(act.provider)
        others = [n for n in s.registry.candidates(act.type, act.request, act.options.get("provider"))
                  if n not in act.excluded]
        immediate = isinstance(err, WorkerLost) or bool(others)
        delay = 0.0 if immediate else retry_delay(s.settings.retry_schedule, act.attempts, err)
        act.status = TaskStatus.RETRYING
        act.progress, act.progress_message = 0.0, None
        s.change(act.id, status=TaskStatus.RETRYING.value, error_code=err.code, error_message=err.message,
                 error_retryable=True, progress=0.0, progress_message=None,
                 next_attempt_at=utcnow() + timedelta(seconds=delay),
                 options={**act.options, "failed_providers": sorted(act.excluded), "lost_attempts": act.lost})
        heapq.heappush(s.delayed, (time.monotonic() + delay, act.id))
        s.kick()

    def settle(self, r: AttemptResult, provider: str | None) -> None:
        """What an attempt's result does to its task and to the provider it ran on (``provider``:
        the one the dispatcher released it from; ``None`` when it was released already)."""
        s = self.state
        act = s.active.get(r.task_id)
        if act is not None and r.task_id in s.recovering and r.attempt >= act.attempts:
            # a surviving worker reports before adoption finished: this attempt is the live one
            s.recovering.discard(r.task_id)
            act.status, act.attempts = TaskStatus.PROCESSING, r.attempt
            act.provider = r.provider or act.provider
        current = act if act is not None and act.attempts == r.attempt and act.status is TaskStatus.PROCESSING \
            else None
        if current is not None and r.remote_job_ended:
            self.remote_jobs.forget(current)
        if current is not None and r.node:
            s.change(current.id, node=r.node)
            # a failed attempt's node at INFO; every attempt's at DEBUG (one line per task costs
            # the Scheduler's hot path too much to be on by default)
            level = logging.DEBUG if r.ok else logging.INFO
            if log.isEnabledFor(level):
                log.log(level, "task %s attempt %d on %s ended: %s", current.id, r.attempt, node_label(r.node),
                        "ok" if r.ok else r.error_code)
        if r.ok:
            if provider:
                s.registry.finished(provider, ok=True, duration=r.duration, cost=r.cost)
                metrics.provider_latency(provider, r.duration)
                metrics.provider_cost(provider, r.cost)
            if current is not None:
                s.budgets.spend(current, r.cost)
                self.finish(current, TaskStatus.COMPLETED, output=r.output, cost=r.cost)
            return
        err = _error_of(r)
        if provider and isinstance(err, RateLimited) and provider in s.registry:
            # the provider said 429: its rate goes down and nothing starts there before Retry-After
            s.limiter.rate_limited(s.registry.get(provider), r.retry_after, time.monotonic())
        if provider:
            # the breaker counts provider faults: a lost worker or a full local disk is not one
            health = None if (r.cancelled or isinstance(err, WorkerLost | DiskFull)) else (
                False if err.retryable or err.code == "authentication_failed" else None)
            s.registry.finished(provider, ok=health, duration=r.duration,
                                error=f"{type(err).__name__}: {err.message}")
            if isinstance(err, RateLimited):
                metrics.provider_rate_limited(provider)
        if current is not None:
            self.fail_or_retry(current, err)


def _lost_too_often(act: Active, err: ProviderError, bound: int) -> WorkerLost:
    return WorkerLost(f"{act.lost} attempts of this task were lost (the process running each one died, or the "
                      f"Scheduler running it was replaced; the last: {err.message}); a task may lose "
                      f"VIDEOAI_MAX_LOST_ATTEMPTS={bound} and run again, so a provider that crashes its process "
                      "on this input does not run for ever")


def _error_of(r: AttemptResult) -> ProviderError:
    """The error a failed attempt reported, rebuilt from its code and its ``retryable`` flag (the
    executor saw the exception itself: a provider's own error class, unknown here, still counts)."""
    if r.cancelled:
        return WorkerLost("attempt was interrupted")
    err = error_from_code(r.error_code or "provider_error", r.error_message or "")
    err.retryable = r.retryable
    if r.retry_after is not None:
        err.retry_after = r.retry_after  # type: ignore[attr-defined]
    return err


__all__ = ["FinishListener", "Outcomes"]
