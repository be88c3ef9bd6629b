"""How one attempt of a task runs on the cluster.

I/O-bound providers run in a ``ProviderWorker`` async actor (many attempts in flight in one
process); CPU-heavy providers run as Ray tasks with ``num_cpus`` so they spread over the nodes.
Both report back to the Scheduler in batches (results and progress), and both turn every
exception into an ``AttemptResult`` so the Scheduler sees one shape.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from pydantic import ValidationError

from . import fault_points, metrics
from .artifacts import ArtifactStore
from .attempt_calls import job_recorder, pass_rate_gate
from .containment import contained, provider_exit
from .errors import InvalidInput, ProviderError, ProviderTimeout, RateLimited, RetryableError
from .logs import configure_logging
from .models import REQUEST_MODELS, TaskRequest, TaskType
from .models.requests import ROOTS_CONTEXT
from .output_check import check_output
from .placement import this_node
from .providers.base import Provider
from .providers.context import AttemptContext
from .providers.remote_job import RemoteJob
from .reporting import ResultReporter, SchedulerLink
from .settings import Settings
from .watchdog import LoopWatchdog, attempt_task_name

log = logging.getLogger("videoai.executor")

_CANCEL_POLL_SECONDS = 0.5


@dataclass(slots=True)
class Assignment:
    """One attempt handed to an executor."""

    task_id: str
    attempt: int
    task_type: str
    input: dict[str, Any]
    user_id: str = ""
    #: the remote job an earlier attempt recorded (``RemoteJob.to_json``): re-attach to it
    remote_job: dict[str, Any] | None = None
    #: pass the Scheduler's ``rate_gate`` right before the provider runs (it has a rate limit)
    rate_gate: bool = False
    #: identity at submit of each input under a root (``{field: identity}``, ``inputs.py``): the
    #: worker reads that version or fails the task (its cache key names that version)
    inputs: dict[str, Any] | None = None

    def expected_inputs(self) -> dict[str, dict[str, Any]]:
        """``{url: identity at submit}`` of the inputs under roots."""
        return {self.input[f]: ident for f, ident in (self.inputs or {}).items() if isinstance(self.input.get(f), str)}


@dataclass(slots=True)
class AttemptResult:
    """How one attempt of a task ended, as an executor reports it."""

    task_id: str
    attempt: int
    ok: bool
    output: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: the error's ``retryable`` as the executor saw it; the Scheduler rebuilds the error from
    #: ``error_code`` and this flag (a provider's own error class may not be importable there)
    retryable: bool = False
    retry_after: float | None = None
    cancelled: bool = False
    cost: float | None = None
    duration: float = 0.0
    #: the provider that ran it (set by the executor)
    provider: str = ""
    #: the task's recorded remote job is over (failed, cancelled, gone): forget it
    remote_job_ended: bool = False
    #: the Ray node (and GPUs) it ran on (``placement.this_node``; ``None`` when it never ran)
    node: dict[str, Any] | None = None


def error_result(a: Assignment, exc: BaseException, started: float) -> AttemptResult:
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):  # ray.cancel interrupts
        return AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled",
                             error_message="cancelled", duration=time.monotonic() - started)
    if isinstance(exc, SystemExit):  # from provider code that is not awaited (estimate_cost)
        exc = provider_exit(exc)
    if isinstance(exc, TimeoutError):
        exc = ProviderTimeout(f"attempt timed out: {exc}")
    if not isinstance(exc, ProviderError):
        # An unexpected exception from provider code: treated as transient, logged with its trace.
        log.warning("provider raised %s for task %s", type(exc).__name__, a.task_id, exc_info=exc)
        exc = RetryableError(f"{type(exc).__name__}: {exc}")
    return AttemptResult(
        a.task_id, a.attempt, False, error_code=exc.code, error_message=str(exc.message)[:2000],
        retryable=exc.retryable, retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
        duration=time.monotonic() - started,
    )


def recheck_at_worker(a: Assignment) -> TaskRequest:
    """The input of an attempt, validated again right before provider code runs.

    Validation happens once, at the edge (``MediaService``); this is a trust boundary, not a
    second edge: the input comes from the store, and a row can be older than today's rules or
    edited there. The worker is the last place that keeps such an input (a local path, a host the
    URL policy refuses) from reaching provider code, so it checks again. ``InvalidInput`` (never
    retried) when the input is refused."""
    try:
        # inputs under roots pass here in canonical form; ``open_input`` checks the grant
        return REQUEST_MODELS[TaskType(a.task_type)].model_validate(a.input, context=ROOTS_CONTEXT)
    except ValueError as e:  # a ValidationError, or an unknown task type
        why = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise InvalidInput(f"the stored input is not valid: {why}") from None


async def run_attempt(provider: Provider, a: Assignment, ctx: AttemptContext, timeout: float,
                      scheduler: SchedulerLink | None = None) -> AttemptResult:
    """Run one attempt to an ``AttemptResult``; never raises. With ``scheduler``, an attempt of
    a rate-limited provider passes its ``rate_gate`` first."""
    result = await _run_attempt(provider, a, ctx, timeout, scheduler)
    result.remote_job_ended = ctx.remote_job_over
    result.node = this_node()
    try:
        await fault_points.pause(ctx.settings, "result_ready", a.task_id)
    except BaseException as exc:  # interrupted while a test held it here: the result stands
        if isinstance(exc, SystemExit):
            raise
    return result


async def _run_attempt(provider: Provider, a: Assignment, ctx: AttemptContext, timeout: float,
                       scheduler: SchedulerLink | None) -> AttemptResult:
    started = time.monotonic()
    try:
        await fault_points.pause(ctx.settings, "attempt_started", a.task_id)
        if a.rate_gate and scheduler is not None:
            await pass_rate_gate(scheduler, a.task_id, a.attempt)
        request = recheck_at_worker(a)
        run = asyncio.ensure_future(contained(provider.run(request, ctx)))
        run.set_name(attempt_task_name(a.task_id, a.attempt))  # the watchdog blames it by name
        output = await asyncio.wait_for(run, timeout)
        if ctx.cancelled:
            raise asyncio.CancelledError
        check_output(output, ctx.settings.max_output_bytes)
        cost = ctx.cost if ctx.cost is not None else provider.estimate_cost(request)
        return AttemptResult(a.task_id, a.attempt, True, output=output, cost=cost,
                             duration=time.monotonic() - started)
    except BaseException as exc:  # every outcome becomes a result; none stops the worker's loop
        return error_result(a, exc, started)
    finally:
        ctx.close()


def artifact_writer(settings: Settings, sink: Sink | None) -> Any:
    """Write artifacts locally, or through the head node's sink when the local store is not shared
    and this process runs on another node."""
    store = ArtifactStore.of(settings)
    if sink is None or not store.is_local or settings.artifacts_shared:
        return store.put
    if ray.get_runtime_context().get_node_id() == sink.node_id:
        return store.put

    def remote_put(task_id: str, name: str, data: bytes | Path, content_type: str | None) -> dict[str, Any]:
        payload = data.read_bytes() if isinstance(data, Path) else data
        return dict(ray.get(sink.actor.put.remote(task_id, name, payload, content_type)))

    return remote_put


@dataclass(frozen=True, slots=True)
class Sink:
    """The head node's artifact sink actor and the node it runs on."""

    actor: Any
    node_id: str


@ray.remote(num_cpus=0)
class ArtifactSink:
    """Receives artifact bytes made on other nodes and writes them to the head node's local store."""

    def __init__(self, settings: Settings) -> None:
        self.store = ArtifactStore.of(settings)

    def put(self, task_id: str, name: str, data: bytes, content_type: str | None) -> dict[str, Any]:
        return self.store.put(task_id, name, data, content_type)

    def read(self, url: str) -> bytes:
        """The bytes of a file of the head node's store, for a driver on another node (``files``)."""
        return self.store.read_bytes(url)


@ray.remote(num_cpus=0, max_restarts=0)
class ProviderWorker:
    """Runs attempts of one I/O-bound provider, many at a time, in one async actor.

    It is a detached actor, so it outlives a Scheduler restart and finishes what it runs; results
    are held until the Scheduler confirms they are written (``ResultReporter``). A loop-lag
    watchdog times out an attempt whose provider code blocks the event loop, and has this worker
    replaced, so the other attempts on it are not held hostage.
    """

    def __init__(self, provider: Provider, settings: Settings, scheduler: Any, sink: Any) -> None:
        configure_logging(settings)
        metrics.set_instance(settings.instance)
        self.provider = provider
        self.settings = settings
        #: the Scheduler to talk to: the one that adopted this worker, or found by name (``reporting``)
        self.scheduler = SchedulerLink(scheduler, settings.instance)
        self.sink = sink
        self.incarnation = uuid.uuid4().hex
        self.running: dict[str, tuple[int, asyncio.Task[None]]] = {}
        self.cancelled: set[str] = set()
        self.reporter = ResultReporter(self.scheduler)
        #: monotonic deadline of each attempt running provider code (read by the watchdog thread)
        self.deadlines: dict[tuple[str, int], float] = {}
        self._watchdog: LoopWatchdog | None = None
        self.timeout = provider.timeout or settings.task_timeout
        self._write: Any = None
        # the cap is enforced here; the scheduler may hand over a few more attempts (prefetch)
        # so a freed slot starts its next attempt without a round trip
        self._slots = asyncio.Semaphore(provider.max_concurrency)

    def ping(self) -> str:
        return self.incarnation

    async def start(self, assignments: list[Assignment]) -> str:
        if self._watchdog is None:
            self.reporter.start()
            self._watchdog = LoopWatchdog(asyncio.get_running_loop(), self.deadlines, self._blocked,
                                          self.settings.loop_block_grace)
            self._watchdog.start()
        for a in assignments:
            self.cancelled.discard(a.task_id)
            self.running[a.task_id] = (a.attempt, asyncio.get_running_loop().create_task(self._run(a)))
        return self.incarnation

    async def cancel(self, task_id: str) -> None:
        self.cancelled.add(task_id)
        item = self.running.get(task_id)
        if item is not None:
            # a grace period for cooperative providers, then the asyncio task is cancelled
            await asyncio.sleep(1.0)
            if task_id in self.running:
                item[1].cancel()

    async def _run(self, a: Assignment) -> None:
        if self._write is None:
            self._write = artifact_writer(self.settings, self.sink)
        async with self._slots:
            if a.task_id in self.cancelled:
                result = AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled")
            else:
                ctx = AttemptContext(
                    a.task_id, a.attempt, self.settings, provider=self.provider.name, user_id=a.user_id,
                    expected_inputs=a.expected_inputs(),
                    on_progress=lambda v, m: self.reporter.progress(a.task_id, a.attempt, v, m),
                    is_cancelled=lambda: a.task_id in self.cancelled, write_artifact=self._write,
                    remote_job=RemoteJob.from_json(a.remote_job),
                    record_job=job_recorder(self.scheduler, a.task_id, a.attempt, self.timeout),
                )
                self.deadlines[(a.task_id, a.attempt)] = time.monotonic() + self.timeout
                try:
                    result = await run_attempt(self.provider, a, ctx, self.timeout, self.scheduler)
                finally:
                    self.deadlines.pop((a.task_id, a.attempt), None)
        self.running.pop(a.task_id, None)
        self.cancelled.discard(a.task_id)
        result.provider = self.provider.name
        self.reporter.add(result)

    def _blocked(self, culprits: list[tuple[str, int]], lag: float) -> None:
        """From the watchdog thread, while the loop is blocked: hand the Scheduler the results it
        has not confirmed and the attempts to time out; it replaces this worker."""
        message = (f"provider {self.provider.name!r} blocked the worker's event loop for {lag:.1f}s, past the "
                   f"attempt's {self.timeout:g}s timeout; blocking code belongs in a cpu_bound provider "
                   "or in asyncio.to_thread")
        try:
            for _ in range(2):  # a second time to the Scheduler found by name, when this one is gone
                try:
                    ray.get(self.scheduler.handle.worker_blocked.remote(
                        self.provider.name, self.incarnation, culprits, message, self.reporter.held()), timeout=60)
                    break
                except ray.exceptions.RayActorError:
                    if not self.scheduler.lookup():
                        raise
        finally:
            # The Scheduler kills this worker; make sure, so the blocked code cannot finish later.
            os._exit(1)

    def snapshot(self, scheduler: Any = None) -> list[tuple[str, int]]:
        """Attempts this worker owns: running, waiting for a slot, or finished but not yet
        confirmed written. A restarted Scheduler adopts them instead of running them again; it
        passes its handle (``scheduler``), and this worker reports to it from now on (a Scheduler
        killed for good and started again is another actor than the one this worker began with)."""
        if scheduler is not None:
            self.reporter.follow(scheduler)
        return [(t, att) for t, (att, _) in self.running.items()] + self.reporter.owned()


@ray.remote(max_retries=0)
def run_cpu_attempt(provider: Provider, a: Assignment, settings: Settings, scheduler: Any, sink: Any) -> AttemptResult:
    """A CPU-heavy attempt as a Ray task; progress is sent to the Scheduler, throttled. (Ray ends
    the task when the Scheduler, its owner, dies; no other Scheduler is followed.)"""
    configure_logging(settings)
    link = SchedulerLink(scheduler, settings.instance)
    cancelled = False
    last_check = 0.0

    def is_cancelled() -> bool:
        nonlocal cancelled, last_check
        now = time.monotonic()
        if not cancelled and now - last_check >= _CANCEL_POLL_SECONDS:
            last_check = now
            cancelled = bool(ray.get(scheduler.is_cancelled.remote(a.task_id, a.attempt)))
        return cancelled

    def on_progress(value: float, message: str | None) -> None:
        scheduler.report.remote([], [(a.task_id, a.attempt, value, message)])

    timeout = provider.timeout or settings.task_timeout
    ctx = AttemptContext(
        a.task_id, a.attempt, settings, provider=provider.name, user_id=a.user_id,
        expected_inputs=a.expected_inputs(),
        on_progress=on_progress, is_cancelled=is_cancelled,
        write_artifact=artifact_writer(settings, sink), progress_interval=0.25,
        remote_job=RemoteJob.from_json(a.remote_job), record_job=job_recorder(link, a.task_id, a.attempt, timeout),
    )
    result = asyncio.run(run_attempt(provider, a, ctx, timeout, link))
    result.provider = provider.name
    return result
