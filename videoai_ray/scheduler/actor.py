"""The Scheduler actor: the one writer of task state.

It accepts chunks of tasks (one SQL transaction each), keeps an aging priority queue per route,
dispatches attempts to providers within their concurrency caps, applies the retry policy, and
writes state changes in batched transactions. At start it rebuilds its queues from the store, so
a restart of it (``max_restarts=-1``), of a worker or of the whole app loses no accepted task; a
start while the store is out comes up degraded and recovers once it answers (``Startup``).

The actor is a thin facade: its public methods are the calls other processes make
(``.remote()``), and each one hands over to one of the parts below, which share one
``SchedulerState`` and call each other only through public methods:

- ``Intake`` (``submit.py``): accepting chunks;
- ``Dispatcher`` (``dispatch.py``): queues to providers, executors, attempt results;
- ``Outcomes`` (``outcomes.py``): terminal states (with the ``on_finish`` listeners), retries;
- ``Startup`` (``startup.py``): reaching the store at start, with backoff; ``health``;
- ``Recovery`` (``recovery.py``): loading unfinished tasks at start, adopting running attempts;
- ``Operations`` (``operations.py``): cancel, retry, budgets, providers, live numbers;
- ``Writer`` (``persistence.py``): batched writes and the version waiters sleep on;
- ``RemoteJobs`` (``remote_jobs.py``) and the rate gate (``throttle.py``);
- ``FairShare`` (``fairness.py``, in the state): users' weights, caps and attempts in flight;
- ``TenantLimitBook`` (``tenant_limits.py``, in the state): the tenants' limits, read again
  every ``tenant_cache_seconds`` off the event loop;
- ``PipelineRunner`` (``pipelines/runner.py``): advances pipelines when their steps end (an
  ``on_finish`` listener);
- ``ScheduleRunner`` (``schedules/runner.py``): fires the due ticks of schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

import ray

from .. import metrics
from ..actor_names import NAMESPACE, artifact_sink_name
from ..attempts import Sink
from ..executor import ArtifactSink
from ..logs import configure_logging
from ..models import TaskStatus
from ..pipelines.runner import PipelineRunner
from ..protocol import AttemptResult, Progress, Submission, SubmitAnswer
from ..providers.base import Provider
from ..providers.registry import ProviderRegistry
from ..providers.resources import autoscaler_node_types, cluster_nodes
from ..schedules.runner import ScheduleRunner
from ..settings import Settings
from ..store import StoreTimeouts, TaskStore
from . import throttle
from .budgets import BudgetLedger
from .caching import TaskCache
from .dispatch import Dispatcher
from .events import EventSink
from .fairness import FairShare
from .named_actor import store_location
from .operations import Operations
from .outage import StoreWatch
from .outcomes import Outcomes
from .persistence import Writer
from .ratelimit import ProviderRateLimiter
from .recovery import Recovery
from .remote_jobs import RemoteJobs
from .startup import Startup
from .state import SchedulerState
from .submit import Intake
from .tenant_limits import TenantLimitBook


class Scheduler:
    """Priority scheduling, retries, cancellation and recovery for every task."""

    def __init__(self, settings: Settings, providers: list[Provider] | None = None) -> None:
        # Nothing here may fail on the outside world (Ray never restarts an actor whose constructor
        # raised): the store is reached by ``Startup.connect`` on the event loop, with backoff.
        configure_logging(settings)
        metrics.set_instance(settings.instance)
        metrics.set_max_tenants(settings.metrics_max_tenants)
        store = TaskStore(settings.db_url, migrate=False, instance=settings.instance,
                          timeouts=StoreTimeouts.of(settings))
        registry = ProviderRegistry(settings.breaker_failures, settings.breaker_cooldown, settings.prefetch)
        registry.set_nodes(cluster_nodes())
        registry.set_node_types(autoscaler_node_types(settings.autoscaling_config))
        tenants = TenantLimitBook()
        self.state = SchedulerState(
            settings=settings, store=store, registry=registry,
            limiter=ProviderRateLimiter(settings.provider_rate_limits, margin=settings.rate_limit_margin,
                                recovery_seconds=settings.rate_limit_recovery_seconds),
            budgets=BudgetLedger(settings, store.engine, tenants), events=EventSink(settings),
            cache=TaskCache.from_settings(settings), fair=FairShare(settings, tenants), sink=_artifact_sink(settings),
            provider_grace_until=time.monotonic() + settings.provider_grace_seconds,
            resends_possible=_restarted(), watch=StoreWatch(settings.store_statement_timeout), tenants=tenants,
        )
        self.remote_jobs = RemoteJobs(self.state)
        self.outcomes = Outcomes(self.state, self.remote_jobs)
        self.dispatcher = Dispatcher(self.state, self.outcomes)
        self.writer = Writer(self.state, self.outcomes, self.dispatcher)
        self.intake = Intake(self.state, self.outcomes, self.writer)
        self.operations = Operations(self.state, self.outcomes, self.dispatcher, self.remote_jobs)
        self.recovery = Recovery(self.state, self.dispatcher)
        self.pipelines = PipelineRunner(self.state, self.intake, self.operations, self.writer)
        self.outcomes.on_finish.append(self.pipelines.task_finished)
        self.schedules = ScheduleRunner(self.state, self.intake, self.pipelines)
        self.startup = Startup(self.state, self.recovery, lambda p: registry.register(p, replace=True))
        self._loops: list[asyncio.Task[None]] = []
        _register_providers(settings, registry, providers)  # the stored registrations come with the store
        try:  # in a Ray async actor, __init__ already runs on the actor's event loop
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._start_loops()

    # -- life cycle --------------------------------------------------------------------------

    def _background(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """The loops that run as long as the actor does, once the store answered (a new one is
        added here)."""
        return [self.dispatcher.loop, self.dispatcher.monitor_loop,
                self.dispatcher.pools.loop, self.recovery.adopt, self.pipelines.loop, self.schedules.loop,
                partial(self.state.tenants.loop, self.state)]

    def _start_loops(self) -> None:
        if self._loops:
            return
        self.writer.start()
        self.state.wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self.writer.loop()), loop.create_task(self._start())]

    async def _start(self) -> None:
        await self.startup.connect()  # degraded (and saying so) until the store answers
        loop = asyncio.get_running_loop()
        self._loops += [loop.create_task(run()) for run in self._background()]
        await asyncio.sleep(0)  # the loops take their first turn (adoption begins) before any report
        self.startup.done.set()

    async def ready(self, wait_for_store: float = 0.0) -> dict[str, Any]:
        """Answers once the scheduler runs (starts its loops if not yet running) and has reached
        its store, or after ``wait_for_store`` seconds degraded: ``degraded`` and ``store`` say
        whether it reached its store and cache (see ``health``)."""
        self._start_loops()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.startup.done.wait()), wait_for_store)
        health = self.startup.health()
        return {"version": self.writer.version, "active": len(self.state.active),
                "instance": self.state.settings.instance, "pid": os.getpid(),
                "degraded": health["status"] != "ok", "store": health["store"]["status"]}

    def health(self) -> dict[str, Any]:
        """Whether the store and the cache answer (and since when and why not), and whether the
        unfinished tasks were recovered (``Startup.health``)."""
        return self.startup.health()

    def store_location(self) -> dict[str, Any]:
        """The store this Scheduler writes and the node it runs on: every other entry point
        (SDK, CLI, ``videoai serve``, Serve replicas) opens this one (``handle.join_store``)."""
        return store_location(self.state.settings)

    def kick(self) -> None:
        self.state.kick()

    # -- intake ------------------------------------------------------------------------------

    async def submit(self, items: list[Submission], return_tasks: bool = False,
                     known_ids: bool = False) -> list[SubmitAnswer]:
        """Accept a chunk of prepared submissions (see ``service.prepare``).

        Returns, per item, ``{"id", "status", "existing", "cache_hit"}``, with ``"created_at"``
        (JSON) for a new task. With ``return_tasks``, replays and cache hits also carry
        ``"task"`` (JSON); a new pending task does not: the caller has the submission and builds
        it with ``models.submitted_task_json``, which keeps that per-task work off this actor.
        ``known_ids``: the ids may be stored already (a resumed batch, whose dead driver's last
        chunk can land late); stored ones are answered as existing instead of failing the chunk.
        """
        await self.startup.require()  # degraded: refused with StoreUnavailable, nothing accepted
        return await self.intake.submit(items, return_tasks, known_ids)

    def estimate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self.operations.estimate(items)

    # -- reports from executors --------------------------------------------------------------

    async def report(self, results: list[AttemptResult], progress: list[Progress]) -> None:
        """Results and ``(task_id, attempt, progress, message)`` of attempts in flight; the
        message says what the progress measures (``None``: the work itself)."""
        await self._recovered()  # the worker keeps its results until they are written
        s = self.state
        for task_id, attempt, value, message in progress:
            act = s.active.get(task_id)
            if act is not None and act.attempts == attempt and act.status is TaskStatus.PROCESSING:
                act.progress, act.progress_message = value, message[:200] if message else None
                s.change(task_id, progress=value, progress_message=act.progress_message)
                s.events.progress(act)
        for r in results:
            self.dispatcher.on_result(r)
        if results:
            s.kick()
            # The caller keeps the results until this returns: return only once they are written,
            # so a Scheduler that dies in between is followed by one that adopts them.
            await self.writer.written()

    def pool_loading(self, provider: str, member_id: str, loading: list[dict[str, Any]]) -> None:
        """A pool actor's catalogue models being fetched or loaded (``ModelActor.loading``)."""
        self.dispatcher.pools.set_loading(provider, member_id, loading)

    async def worker_blocked(self, provider: str, incarnation: str, culprits: list[tuple[str, int]],
                             message: str, held: list[AttemptResult]) -> None:
        """A worker's watchdog found its event loop blocked by provider code: write the results it
        held, time out the blamed attempts (they run again, elsewhere when they can), and replace
        the worker; its other attempts run again at once (``worker_lost``)."""
        await self._recovered()
        for r in held:
            self.dispatcher.on_result(r)
        for tid, attempt in culprits:
            self.dispatcher.on_result(AttemptResult(tid, attempt, False, error_code="timeout", error_message=message,
                                                    retryable=True, provider=provider))
        self.dispatcher.replace_worker(provider, incarnation)
        self.state.kick()
        await self.writer.written()

    def is_cancelled(self, task_id: str, attempt: int) -> bool:
        return self.operations.is_cancelled(task_id, attempt)

    async def record_remote_job(self, task_id: str, attempt: int, job: dict[str, Any]) -> bool:
        """Commit the job an attempt just created; ``False`` when the task no longer wants it
        (finished, cancelled, or a newer attempt runs), and the provider cancels it."""
        await self._recovered()
        if not self.remote_jobs.record(task_id, attempt, job):
            return False
        await self.writer.written()
        return True

    async def rate_gate(self, task_id: str, attempt: int) -> None:
        """Return when the attempt may send its requests (see ``throttle.rate_gate``)."""
        await throttle.rate_gate(self.state, task_id, attempt)

    # -- user operations ---------------------------------------------------------------------

    async def cancel(self, task_ids: list[str], user_id: str | None = None) -> list[dict[str, Any]]:
        return self.operations.cancel(task_ids, user_id)

    async def cancel_batch(self, batch_id: str, user_id: str | None = None) -> list[dict[str, Any]]:
        """Cancel every unfinished task of a batch (of this user)."""
        ids = self.operations.batch_task_ids(batch_id, user_id)
        return self.operations.cancel(ids, user_id) if ids else []

    async def retry(self, task_id: str, user_id: str | None = None) -> dict[str, Any]:
        """Manual retry of a failed (or cancelled) task: it gets a fresh retry budget."""
        return self.operations.retry(task_id, user_id)

    def set_user_budget(self, user_id: str, budget_usd: float | None) -> None:
        self.operations.set_user_budget(user_id, budget_usd)

    # -- pipelines and schedules -------------------------------------------------------------

    async def create_pipeline(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a validated pipeline and submit its first steps (``PipelineRunner.create``)."""
        return await self.pipelines.create(row)

    async def cancel_pipeline(self, pipeline_id: str, user_id: str | None = None) -> None:
        await self.pipelines.cancel(pipeline_id, user_id)

    async def schedule_op(self, op: str, *args: Any) -> bool:
        """Create, pause, resume or delete a schedule (``ScheduleRunner.call``)."""
        return await self.schedules.call(op, *args)

    # -- providers and numbers ---------------------------------------------------------------

    async def register_provider(self, provider: Provider, replace: bool = False,
                                persist: bool = True) -> dict[str, Any]:
        return self.operations.register_provider(provider, replace, persist)

    async def unregister_provider(self, name: str) -> None:
        self.operations.unregister_provider(name)

    def providers(self) -> list[dict[str, Any]]:
        return self.operations.providers()

    def live_stats(self, user_id: str | None = None) -> dict[str, Any]:
        return {**self.operations.live_stats(user_id), "health": self.startup.health()}

    def cache_stats(self) -> dict[str, Any]:
        return self.operations.cache_stats()

    def forget_cached(self, keys: list[str]) -> int:
        """Remove cache entries by key from every layer (a deleted tenant's results: the caller
        computes the keys with ``TaskCache.key``); how many keys were asked for."""
        cache = self.state.cache
        if cache is None:
            return 0
        for key in keys:
            cache.layers.delete(key)
        return len(keys)

    # -- writes ------------------------------------------------------------------------------

    async def wait_version(self, since: int, timeout: float) -> int:
        """Return once a state change newer than ``since`` was committed, or after ``timeout``."""
        return await self.writer.wait_version(since, timeout)

    async def flush_now(self) -> int:
        """Write what is pending now (used before reading a task just changed); a stalled store
        is waited for no longer than its statement timeout."""
        await self.writer.flush(timeout=self.state.settings.store_statement_timeout)
        return self.writer.version

    async def _recovered(self) -> None:
        """Return once the store answered and the unfinished tasks are loaded (at once, usually)."""
        self._start_loops()
        await self.startup.done.wait()


def _register_providers(settings: Settings, registry: ProviderRegistry, providers: list[Provider] | None) -> None:
    """The given providers (the defaults when ``None``); the runtime registrations kept in the
    store follow once it answers (``Startup``)."""
    from ..providers.defaults import default_providers

    for p in providers if providers is not None else default_providers(settings):
        registry.register(p, replace=True)


def _artifact_sink(settings: Settings) -> Sink:
    """The head node's artifact sink (started with the first Scheduler, on this node)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node_id = ray.get_runtime_context().get_node_id()
    actor = ArtifactSink.options(  # type: ignore[attr-defined]
        name=artifact_sink_name(settings.instance), namespace=NAMESPACE, get_if_exists=True,
        lifetime="detached", scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(settings)
    return Sink(actor, node_id)


def _restarted() -> bool:
    try:
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not inside a Ray actor (unit use): nothing can be re-sent
        return False


__all__ = ["Scheduler"]
