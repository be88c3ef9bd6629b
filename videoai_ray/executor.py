"""How one attempt of a task runs on the cluster.

I/O-bound providers run in a ``ProviderWorker`` async actor (many attempts in flight in one
process); CPU-heavy providers run as Ray tasks with ``num_cpus`` so they spread over the nodes.
Both run an attempt the one way ``attempts.AttemptRunner`` runs it (as the model pools do); here
is only where they run, how they learn of a cancellation and how they report back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import Any

import ray

from . import metrics
from .artifacts import ArtifactStore
from .attempts import AttemptRunner
from .logs import configure_logging
from .protocol import Assignment, AttemptResult
from .providers.base import Provider
from .reporting import ResultReporter, SchedulerLink
from .settings import Settings
from .watchdog import LoopWatchdog

log = logging.getLogger("videoai.executor")

_CANCEL_POLL_SECONDS = 0.5


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
        self.runner = AttemptRunner(
            provider, settings, sink, link=self.scheduler, is_cancelled=lambda a: a.task_id in self.cancelled,
            on_progress=lambda a, v, m: self.reporter.progress(a.task_id, a.attempt, v, m))
        self.timeout = self.runner.timeout
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
        async with self._slots:
            if a.task_id in self.cancelled:
                result = self.runner.cancelled(a)
            else:
                self.deadlines[(a.task_id, a.attempt)] = time.monotonic() + self.timeout
                try:
                    result = await self.runner.run(a)
                finally:
                    self.deadlines.pop((a.task_id, a.attempt), None)
        self.running.pop(a.task_id, None)
        self.cancelled.discard(a.task_id)
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

    def is_cancelled(_: Assignment) -> bool:
        nonlocal cancelled, last_check
        now = time.monotonic()
        if not cancelled and now - last_check >= _CANCEL_POLL_SECONDS:
            last_check = now
            cancelled = bool(ray.get(scheduler.is_cancelled.remote(a.task_id, a.attempt)))
        return cancelled

    def on_progress(_: Assignment, value: float, message: str | None) -> None:
        scheduler.report.remote([], [(a.task_id, a.attempt, value, message)])

    runner = AttemptRunner(provider, settings, sink, link=link, is_cancelled=is_cancelled, on_progress=on_progress,
                           progress_interval=0.25)
    return asyncio.run(runner.run(a))
