"""The one way an attempt of a task runs, whatever process hosts it.

Three hosts run attempts: the I/O worker actor (``executor.ProviderWorker``, many attempts in one
event loop), the CPU-bound Ray task (``executor.run_cpu_attempt``, one attempt) and the model pool
actor (``pools.actor.ModelActor``, batches). They differ in where they run, how they learn of a
cancellation and how they send progress; everything else is here, once, in ``AttemptRunner``:
the context an attempt sees, its timeout, the trust-boundary check of its input, the call to the
provider, the check of its output, its cost, and the ``AttemptResult`` every outcome becomes (an
exception never leaves an attempt). So the hosts cannot drift apart on any of these.

Also here: where the artifacts of an attempt are written (``artifact_writer``). What crosses to
and from a host (``Assignment``, ``AttemptResult``) is typed in ``protocol.py``. The attempt's other calls to the
Scheduler (rate gate, remote-job record) are in ``attempt_calls.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from pydantic import ValidationError

from . import fault_points
from .artifacts import ArtifactStore
from .attempt_calls import job_recorder, pass_rate_gate
from .containment import contained, provider_exit
from .errors import InvalidInput, ProviderError, ProviderTimeout, RateLimited, RetryableError
from .models import REQUEST_MODELS, TaskRequest, TaskType
from .models.requests import ROOTS_CONTEXT
from .output_check import check_output
from .placement import this_node
from .protocol import Assignment, AttemptResult
from .providers.base import Provider
from .providers.context import ArtifactWriter, AttemptContext
from .providers.model import ModelProvider
from .providers.remote_job import RemoteJob
from .reporting import SchedulerLink
from .settings import Settings
from .watchdog import attempt_task_name

log = logging.getLogger("videoai.executor")


def error_result(a: Assignment, exc: BaseException, started: float) -> AttemptResult:
    """The result of an attempt that ended with ``exc``: a cancellation, or a ``ProviderError``
    (a timeout, a provider's ``sys.exit`` and any unexpected exception become one)."""
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


@dataclass(frozen=True, slots=True)
class Sink:
    """The head node's artifact sink actor and the node it runs on."""

    actor: Any
    node_id: str


def artifact_writer(settings: Settings, sink: Sink | None) -> ArtifactWriter:
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


#: how a host sends an attempt's progress and what it measures (``ctx.progress`` already throttled it)
ProgressSink = Callable[[Assignment, float, str | None], None]
#: whether the task of an attempt was cancelled, as the host learns it
CancelCheck = Callable[[Assignment], bool]


class AttemptRunner:
    """Runs attempts of one provider for one host; never raises for an attempt's outcome.

    The host passes how it sends progress (``on_progress``) and learns of a cancellation
    (``is_cancelled``), the sink its artifacts go through, how often progress may leave a
    context (``progress_interval``), and its link to the Scheduler (``link``): with one, an
    attempt may re-attach to and record a remote job and passes the rate gate; a pool actor has
    none (a model runs in place)."""

    def __init__(self, provider: Provider, settings: Settings, sink: Sink | None, *, on_progress: ProgressSink,
                 is_cancelled: CancelCheck, progress_interval: float = 0.2, link: SchedulerLink | None = None) -> None:
        self.provider = provider
        self.settings = settings
        self.sink = sink
        self.on_progress = on_progress
        self.is_cancelled = is_cancelled
        self.progress_interval = progress_interval
        self.link = link
        #: every attempt's time limit, from provider code's start to its result
        self.timeout = provider.timeout or settings.task_timeout
        self._write: ArtifactWriter | None = None

    def writer(self) -> ArtifactWriter:
        """Where this host's attempts write artifacts (decided once, at first use)."""
        if self._write is None:
            self._write = artifact_writer(self.settings, self.sink)
        return self._write

    def context(self, a: Assignment) -> AttemptContext:
        """The context ``a``'s provider code sees."""
        link = self.link
        return AttemptContext(
            a.task_id, a.attempt, self.settings, provider=self.provider.name, user_id=a.user_id,
            expected_inputs=a.expected_inputs(),
            on_progress=lambda v, m: self.on_progress(a, v, m), is_cancelled=lambda: self.is_cancelled(a),
            write_artifact=self.writer(), progress_interval=self.progress_interval,
            remote_job=RemoteJob.from_json(a.remote_job) if link is not None else None,
            record_job=job_recorder(link, a.task_id, a.attempt, self.timeout) if link is not None else None,
        )

    def cancelled(self, a: Assignment) -> AttemptResult:
        """The result of an attempt cancelled before its provider code started."""
        return AttemptResult(a.task_id, a.attempt, False, cancelled=True, error_code="cancelled",
                             provider=self.provider.name)

    def outcome(self, a: Assignment, ctx: AttemptContext, request: TaskRequest, value: Any,
                started: float) -> AttemptResult:
        """The result of an attempt whose provider code returned ``value`` (an output, or the
        exception it ended with): cancelled, an output over the limits (never a poison row), or
        done at its cost (the provider's own, else its estimate)."""
        if isinstance(value, BaseException):
            return error_result(a, value, started)
        try:
            if ctx.cancelled:
                raise asyncio.CancelledError
            check_output(value, self.settings.max_output_bytes)
            cost = ctx.cost if ctx.cost is not None else self.provider.estimate_cost(request)
        except BaseException as exc:
            return error_result(a, exc, started)
        return AttemptResult(a.task_id, a.attempt, True, output=value, cost=cost, duration=time.monotonic() - started)

    # -- one attempt (the I/O worker, the CPU task) ----------------------------------------------

    async def run(self, a: Assignment) -> AttemptResult:
        """Run one attempt to its ``AttemptResult``."""
        ctx = self.context(a)
        result = await self._run(a, ctx)
        result.remote_job_ended = ctx.remote_job_over
        result.node = this_node()
        result.provider = self.provider.name
        try:
            await fault_points.pause(self.settings, "result_ready", a.task_id)
        except BaseException as exc:  # interrupted while a test held it here: the result stands
            if isinstance(exc, SystemExit):
                raise
        return result

    async def _run(self, a: Assignment, ctx: AttemptContext) -> AttemptResult:
        started = time.monotonic()
        try:
            await fault_points.pause(self.settings, "attempt_started", a.task_id)
            if a.rate_gate and self.link is not None:
                await pass_rate_gate(self.link, a.task_id, a.attempt)
            request = recheck_at_worker(a)
            run = asyncio.ensure_future(contained(self.provider.run(request, ctx)))
            run.set_name(attempt_task_name(a.task_id, a.attempt))  # the watchdog blames it by name
            output = await asyncio.wait_for(run, self.timeout)
        except BaseException as exc:  # every outcome becomes a result; none stops the worker's loop
            return error_result(a, exc, started)
        else:
            return self.outcome(a, ctx, request, output, started)
        finally:
            ctx.close()

    # -- a batch (the pool actor) ----------------------------------------------------------------

    async def run_batch(self, batch: list[Assignment], loaded: Any = None) -> list[AttemptResult]:
        """Run ``batch`` in one ``run_batch`` call (``run_model_batch`` with ``loaded``, a
        catalogue model): an item that is cancelled, has bad input or fails, fails alone."""
        started = time.monotonic()
        results: dict[int, AttemptResult] = {}
        items: list[tuple[int, Assignment, Any, AttemptContext]] = []
        for i, a in enumerate(batch):
            if self.is_cancelled(a):
                results[i] = self.cancelled(a)
                continue
            try:
                request = recheck_at_worker(a)
            except InvalidInput as exc:
                results[i] = error_result(a, exc, started)
                continue
            items.append((i, a, request, self.context(a)))
        if items:
            node = this_node()
            for i, result in zip([it[0] for it in items], await self._serve(items, started, loaded), strict=True):
                result.node = node  # it reached the model here; the ones left out above never ran
                results[i] = result
        for r in results.values():
            r.provider = self.provider.name
        return [results[i] for i in range(len(batch))]

    async def _serve(self, items: list[tuple[int, Assignment, Any, AttemptContext]], started: float,
                     loaded: Any) -> list[AttemptResult]:
        try:
            outs = await self._call([it[2] for it in items], [it[3] for it in items], loaded)
        except BaseException as exc:
            if isinstance(exc, SystemExit | KeyboardInterrupt):
                raise
            if len(items) > 1 and not isinstance(exc, ProviderTimeout | asyncio.CancelledError):
                # the batch as a whole failed: serve each item alone so one bad item fails alone
                return [r for it in items for r in await self._serve([it], started, loaded)]
            outs = [exc] * len(items)
        finally:
            for it in items:
                it[3].close()
        return [self.outcome(a, ctx, request, value, started) for (_, a, request, ctx), value in zip(items, outs,
                                                                                                   strict=True)]

    async def _call(self, requests: list[Any], ctxs: list[AttemptContext], loaded: Any) -> list[Any]:
        provider = self.provider
        assert isinstance(provider, ModelProvider), "batches are for model providers"
        call = provider.run_batch(requests, ctxs) if loaded is None else \
            provider.run_model_batch(loaded, requests, ctxs)
        try:
            outs = await asyncio.wait_for(contained(call), self.timeout)
        except TimeoutError as exc:
            raise ProviderTimeout(f"batch of {len(requests)} timed out after {self.timeout:g} s") from exc
        if not isinstance(outs, list) or len(outs) != len(requests):
            got = len(outs) if isinstance(outs, list) else repr(outs)
            raise RetryableError(f"{self.provider.name}.run_batch returned {got} results for {len(requests)} requests")
        return outs


__all__ = ["AttemptRunner", "Sink", "artifact_writer", "error_result",
           "recheck_at_worker"]
