"""The Scheduler actor: the one writer of task state.

It accepts chunks of tasks (one SQL transaction each), keeps an aging priority queue per route,
dispatches attempts to providers within their concurrency caps, applies the retry policy, and
writes state changes in batched transactions. At start it rebuilds its queues from the store, so
a restart of it (``max_restarts=-1``), of a worker or of the whole app loses no accepted task.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import ray

from .. import metrics
from ..errors import ProviderError, RateLimited, WorkerLost, error_from_code
from ..executor import ArtifactSink, AttemptResult, Sink
from ..logs import configure_logging
from ..models import EventType, TaskStatus
from ..pipelines.ops import PipelineOpsMixin
from ..pipelines.runner import PipelineRunner
from ..providers.base import Provider
from ..providers.registry import ProviderRegistry
from ..providers.resources import cluster_nodes
from ..schedules.runner import ScheduleRunner
from ..settings import Settings
from ..store import TaskStore, utcnow
from .backoff import retry_delay
from .budgets import BudgetLedger
from .dispatch import Dispatcher
from .events import EventSink
from .fairness import FairShare
from .handle import NAMESPACE
from .operations import OperationsMixin
from .persistence import PersistenceMixin
from .queue import AgingQueue
from .ratelimit import RateLimiter
from .recovery import RecoveryMixin
from .remote_jobs import RemoteJobsMixin
from .state import Active
from .submit import SubmitMixin
from .throttle import ThrottleMixin

log = logging.getLogger("videoai.scheduler")



class Scheduler(SubmitMixin, RecoveryMixin, OperationsMixin, PersistenceMixin, RemoteJobsMixin, ThrottleMixin,
                PipelineOpsMixin):
    """Priority scheduling, retries, cancellation and recovery for every task."""

    def __init__(self, settings: Settings, providers: list[Provider] | None = None) -> None:
        configure_logging(settings)
        self.settings = settings
        self.store = TaskStore(settings.db_url)
        self.registry = ProviderRegistry(settings.breaker_failures, settings.breaker_cooldown, settings.prefetch)
        self.limiter = RateLimiter(settings.provider_rate_limits, margin=settings.rate_limit_margin,
                                   recovery_seconds=settings.rate_limit_recovery_seconds)
        self.cache = _make_cache(settings)
        self.active: dict[str, Active] = {}
        self.queues: dict[str, AgingQueue] = {}
        #: fair sharing between users (hook: issue 15 part 3)
        self.fair = FairShare(settings)
        self.delayed: list[tuple[float, str]] = []
        self.changes: dict[str, dict[str, Any]] = {}
        self._write_retry_at = 0.0
        self._write_delay = 0.0
        #: tasks whose change could not be written even alone (their failure is written instead)
        self._unwritable: set[str] = set()
        #: a task pinned to an unregistered provider waits until then for its registration
        self.provider_grace_until = time.monotonic() + settings.provider_grace_seconds
        #: tasks loaded at start whose fate waits for worker adoption
        self.recovering: set[str] = set()
        #: Ray re-sends the calls in flight when it restarts an actor; only then can a submitted
        #: chunk hold ids that are already stored (ids are fresh uuid4s otherwise)
        self.resends_possible = _restarted()
        self.events = EventSink(settings)
        self.finish_seq = self.store.max_finish_seq()
        self.version = int(time.time() * 1000)
        self._version_event: asyncio.Event | None = None
        self._kick: asyncio.Event | None = None
        self._loops: list[asyncio.Task[None]] = []
        self.sink = Sink(ArtifactSink.options(  # type: ignore[attr-defined]
            name=f"videoai-artifacts-{settings.instance}", namespace=NAMESPACE, get_if_exists=True,
            lifetime="detached", scheduling_strategy=_this_node(),
        ).remote(settings), ray.get_runtime_context().get_node_id())
        self.dispatcher = Dispatcher(self)
        self.registry.set_nodes(cluster_nodes())
        self.budgets = BudgetLedger(settings, self.store.engine)
        self.schedules = ScheduleRunner(self)  # scheduled tasks: the tick loop (videoai_ray/schedules/)
        self.pipelines = PipelineRunner(self)  # pipeline hook: the runner that advances pipelines
        metrics.set_instance(settings.instance)
        from ..providers.defaults import default_providers
        from ..store.registrations import load_registrations

        # runtime registrations come from the store, before any task is recovered
        for p in [*(providers if providers is not None else default_providers(settings)),
                  *load_registrations(self.store.engine, settings.instance)]:
            self.registry.register(p, replace=True)
        self._recover()
        try:  # in a Ray async actor, __init__ already runs on the actor's event loop
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._start_loops()

    # -- life cycle --------------------------------------------------------------------------

    def _start_loops(self) -> None:
        if self._loops:
            return
        self._version_event = asyncio.Event()
        self._kick = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self.dispatcher.loop()),
            loop.create_task(self._flush_loop()),
            loop.create_task(self.dispatcher.monitor_loop()),
            loop.create_task(self.dispatcher.pools.loop()),
            loop.create_task(self._adopt()),
            loop.create_task(self.schedules.loop()),  # scheduled tasks: fires due ticks
            loop.create_task(self.pipelines.loop()),  # pipeline hook: recover, then advance on step ends
        ]

    async def ready(self) -> dict[str, Any]:
        """Answers once the scheduler can take work (starts its loops if not yet running)."""
        self._start_loops()
        return {"version": self.version, "active": len(self.active), "instance": self.settings.instance,
                "pid": os.getpid()}

    async def schedule_op(self, op: str, *args: Any) -> bool:
        """Create, pause, resume or delete a schedule (``schedules.runner.ScheduleRunner.call``)."""
        return self.schedules.call(op, *args)

    def kick(self) -> None:
        if self._kick is not None:
            self._kick.set()

    # -- state changes -----------------------------------------------------------------------

    def _enqueue(self, act: Active, now: float) -> None:
        self.active[act.id] = act
        q = self.queues.get(act.route)
        if q is None:
            q = self.queues[act.route] = AgingQueue(self.settings.aging_seconds)
        q.push(act.id, act.priority.rank, now, *self.fair.key(act))  # fair-share hook

    def change(self, task_id: str, **values: Any) -> None:
        self.changes.setdefault(task_id, {"id": task_id}).update(values)

    def finish(self, act: Active, status: TaskStatus, *, output: dict[str, Any] | None = None,
               error: ProviderError | None = None, cost: float | None = None) -> None:
        """Move a task to a terminal state (written at the next flush)."""
        self.active.pop(act.id, None)
        self.limiter.release(act.id)
        act.status = status
        self.finish_seq += 1
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow(), "finish_seq": self.finish_seq,
                                  "next_attempt_at": None}
        if status is TaskStatus.COMPLETED:
            # a completed row always says which attempt of which provider produced it, and when
            act.started_at = act.started_at or utcnow()
            values.update(output=output, progress=1.0, cost=cost, error_code=None, error_message=None,
                          error_retryable=None, attempts=act.attempts, provider=act.provider,
                          started_at=act.started_at)
            act.progress = 1.0
            if self.cache is not None and act.options.get("use_cache", True):
                self.cache_put(act, output or {})
        if error is not None:
            values.update(error_code=error.code, error_message=error.message, error_retryable=error.retryable)
        self.change(act.id, **values)
        self.events.emit(act, _TERMINAL_EVENT[status], output=output, error=error)
        self.pipelines.task_finished(act)  # pipeline hook: a task of a pipeline ended -> runner.advance
        duration = (utcnow() - act.started_at).total_seconds() if act.started_at else None
        metrics.task_finished(act.type.value, act.provider or "none", status.value, duration)

    def fail_or_retry(self, act: Active, err: ProviderError) -> None:
        """The retry policy: it reads only ``err.retryable``."""
        if not err.retryable or act.attempts > act.max_retries:
            self.finish(act, TaskStatus.FAILED, error=err)
            return
        if act.provider and not isinstance(err, WorkerLost):
            act.excluded.add(act.provider)
        others = [n for n in self.registry.candidates(act.type, act.request, act.options.get("provider"))
                  if n not in act.excluded]
        immediate = isinstance(err, WorkerLost) or bool(others)
        delay = 0.0 if immediate else retry_delay(self.settings.retry_schedule, act.attempts, err)
        act.status = TaskStatus.RETRYING
        act.progress = 0.0
        self.change(act.id, status=TaskStatus.RETRYING.value, error_code=err.code, error_message=err.message,
                    error_retryable=True, progress=0.0, next_attempt_at=utcnow() + timedelta(seconds=delay),
                    options={**act.options, "failed_providers": sorted(act.excluded)})
        heapq.heappush(self.delayed, (time.monotonic() + delay, act.id))
        self.kick()

    # -- reports from executors --------------------------------------------------------------

    async def report(self, results: list[AttemptResult], progress: list[tuple[str, int, float]]) -> None:
        for task_id, attempt, value in progress:
            act = self.active.get(task_id)
            if act is not None and act.attempts == attempt and act.status is TaskStatus.PROCESSING:
                act.progress = value
                self.change(task_id, progress=value)
                self.events.progress(act)
        for r in results:
            self.on_result(r)
        if results:
            self.kick()
            # The caller keeps the results until this returns: return only once they are written,
            # so a Scheduler that dies in between is followed by one that adopts them.
            await self.written()

    async def worker_blocked(self, provider: str, incarnation: str, culprits: list[tuple[str, int]],
                             message: str, held: list[AttemptResult]) -> None:
        """A worker's watchdog found its event loop blocked by provider code: write the results it
        held, time out the blamed attempts (they run again, elsewhere when they can), and replace
        the worker; its other attempts run again at once (``worker_lost``)."""
        for r in held:
            self.on_result(r)
        for tid, attempt in culprits:
            self.on_result(AttemptResult(tid, attempt, False, error_code="timeout", error_message=message,
                                         retryable=True, provider=provider))
        self.dispatcher.replace_worker(provider, incarnation)
        self.kick()
        await self.written()

    def on_result(self, r: AttemptResult) -> None:
        provider = self.dispatcher.release(r.task_id, r.attempt)
        if provider:
            self.budgets.release(r.task_id)
        act = self.active.get(r.task_id)
        if act is not None and r.task_id in self.recovering and r.attempt >= act.attempts:
            # a surviving worker reports before adoption finished: this attempt is the live one
            self.recovering.discard(r.task_id)
            act.status, act.attempts = TaskStatus.PROCESSING, r.attempt
            act.provider = r.provider or act.provider
        current = act is not None and act.attempts == r.attempt and act.status is TaskStatus.PROCESSING
        if current and r.remote_job_ended:
            assert act is not None
            self.forget_remote_job(act)
        if r.ok:
            if provider:
                self.registry.finished(provider, ok=True, duration=r.duration, cost=r.cost)
                metrics.provider_latency(provider, r.duration)
                metrics.provider_cost(provider, r.cost)
            if current:
                assert act is not None
                self.budgets.spend(act, r.cost)
                self.finish(act, TaskStatus.COMPLETED, output=r.output, cost=r.cost)
            return
        err: ProviderError = WorkerLost("attempt was interrupted") if r.cancelled else error_from_code(
            r.error_code or "provider_error", r.error_message or "")
        if r.retry_after is not None:
            err.retry_after = r.retry_after  # type: ignore[attr-defined]
        if provider and isinstance(err, RateLimited) and provider in self.registry:
            # the provider said 429: its rate goes down and nothing starts there before Retry-After
            self.limiter.rate_limited(self.registry.get(provider), r.retry_after, time.monotonic())
        if provider:
            health = None if (r.cancelled or isinstance(err, WorkerLost)) else (
                False if err.retryable or err.code == "authentication_failed" else None)
            self.registry.finished(provider, ok=health, duration=r.duration,
                                   error=f"{type(err).__name__}: {err.message}")
            if isinstance(err, RateLimited):
                metrics.provider_rate_limited(provider)
        if current:
            assert act is not None
            self.fail_or_retry(act, err)

    def _record_gauges(self) -> None:
        for priority, n in self._queue_depth().items():
            metrics.queue_depth(priority, n)
        running = self.dispatcher.in_flight()
        now = time.monotonic()
        for name in self.registry.names():
            metrics.in_flight(name, running.get(name, 0))
            allowed = self.limiter.describe(self.registry.get(name), now)["rate_allowed_rpm"]
            if allowed is not None:
                metrics.provider_allowed_rpm(name, allowed)

    def _queue_depth(self) -> dict[str, int]:
        depth: dict[str, int] = defaultdict(int)
        for q in self.queues.values():
            for prio, n in q.depth().items():
                depth[prio] += n
        return dict(depth)



_TERMINAL_EVENT = {
    TaskStatus.COMPLETED: EventType.COMPLETED,
    TaskStatus.FAILED: EventType.FAILED,
    TaskStatus.CANCELLED: EventType.CANCELLED,
}


def _make_cache(settings: Settings) -> Any:
    if not settings.cache_enabled:
        return None
    try:
        from ..cache import TieredCache
    except ImportError:  # pragma: no cover - the cache package is part of the distribution
        log.warning("cache unavailable", exc_info=True)
        return None
    return TieredCache.from_settings(settings)


def _restarted() -> bool:
    try:
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not inside a Ray actor (unit use): nothing can be re-sent
        return False


def _this_node() -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)


__all__ = ["Scheduler"]
