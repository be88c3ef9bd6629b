"""The Scheduler's writes: pending state changes go out in batched transactions every 20 ms, each
in a thread (``StoreWatch.call``), so a stalled store never holds up the actor's event loop;
callers that must know a change is durable (a worker's report) wait for the commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..clock import utcnow
from ..errors import InvalidOutput, WriteFailed
from ..models import TaskStatus
from .faults import kill_before_write_if_armed
from .writes import write_or_split

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .outcomes import Outcomes
    from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")

_FLUSH_SECONDS = 0.02
_MAX_WRITE_DELAY = 5.0
_GAUGE_SECONDS = 1.0


class Writer:
    """Batched writes, the version waiters sleep on, and the write-failure handling."""

    def __init__(self, state: SchedulerState, outcomes: Outcomes, dispatcher: Dispatcher) -> None:
        self.state = state
        self.outcomes = outcomes
        self.dispatcher = dispatcher
        #: grows with every committed write; waiters compare it with the one they saw
        self.version = int(time.time() * 1000)
        self._version_event: asyncio.Event | None = None
        #: writes started (each takes every pending change) and the last one that succeeded
        #: (they run one at a time; a failed one's changes go to the next); ``written`` waits on
        #: these: a row committed elsewhere (``committed``) says nothing about the changes here
        self._taken = 0
        self._done = 0
        self._progress: asyncio.Event | None = None
        #: while the store cannot be reached: when to try the write again, and the current delay
        self._write_retry_at = 0.0
        self._write_delay = 0.0
        #: tasks whose change could not be written even alone (their failure is written instead)
        self._unwritable: set[str] = set()
        #: the write running now (in a thread), if any
        self._inflight: asyncio.Future[None] | None = None

    def start(self) -> None:
        """On the actor's event loop: from now on waiters sleep until a commit."""
        self._version_event = asyncio.Event()
        self._progress = asyncio.Event()

    @property
    def pending(self) -> bool:
        return bool(self.state.changes) or self.state.events.pending

    async def written(self) -> None:
        """Return once every change made so far is committed: by the write running now, or (for
        the changes still pending) by the next one; a failed write's changes go to the one after."""
        need = self._taken + 1 if self.pending else self._taken
        while self._done < need:
            if self._progress is None:  # not started on an event loop: write now
                await self.flush()
                return
            await self._progress.wait()

    async def wait_version(self, since: int, timeout: float) -> int:
        """Return once a state change newer than ``since`` was committed, or after ``timeout``."""
        if self.version > since or self._version_event is None:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._version_event.wait()), timeout)
        return self.version

    async def flush(self, timeout: float | None = None) -> None:
        """Write pending changes and outbox rows in one transaction (in a thread: the event loop
        never waits on the store), then wake waiters; return when that write ended, or after
        ``timeout`` (the write goes on).

        One write at a time: a write still running (a stalled store) is waited for, never started
        again beside itself. A write that fails on a bad value is split so the other tasks' changes
        are written and the bad task fails; one that fails because the store is out is kept and
        tried again with a growing delay (up to 5 s)."""
        waited = asyncio.ensure_future(self._flush_pending())
        if timeout is None:
            await waited
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waited), timeout)

    async def _flush_pending(self) -> None:
        if self._inflight is not None:
            await asyncio.shield(self._inflight)
        if not self.pending or time.monotonic() < self._write_retry_at:
            return
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._write())
        await asyncio.shield(self._inflight)

    async def _write(self) -> None:
        s = self.state
        changes, s.changes = list(s.changes.values()), {}
        events = s.events.take_events()
        self._taken += 1
        number = self._taken
        try:
            kill_before_write_if_armed(s.settings.fault_kill_file, changes)
            bad = await s.watch.call(write_or_split, s.store, changes, events)
        except Exception as exc:
            self._write_delay = min(max(self._write_delay * 2, 0.1), _MAX_WRITE_DELAY)
            self._write_retry_at = time.monotonic() + self._write_delay
            if not s.watch.failed(exc, f"{len(changes)} task changes wait to be written"):
                log.error("a write of %d task changes failed; it is tried again", len(changes), exc_info=True)
            for ch in changes:  # keep them (newer changes win)
                s.changes[ch["id"]] = {**ch, **s.changes.get(ch["id"], {})}
            s.events.give_back(events)
            return
        finally:
            self._inflight = None
        self._write_delay = 0.0
        if bad:
            self._fail_unwritable(bad, {ch["id"]: ch for ch in changes})
        s.events.committed(events)
        self._done = number
        if self._progress is not None:
            self._progress.set()
            self._progress = asyncio.Event()
        self.committed()

    def committed(self) -> None:
        """A write was committed: a new version, and its version waiters wake (not ``written``'s).
        ``flush`` calls it; so does a part that commits rows of its own outside the batch (a
        submitted chunk, a pipeline's end)."""
        self.version = max(self.version + 1, int(time.time() * 1000))
        if self._version_event is not None:
            self._version_event.set()
            self._version_event = asyncio.Event()

    def _fail_unwritable(self, bad: dict[str, str], changes: dict[str, dict[str, Any]]) -> None:
        """The tasks whose change could not be written fail instead (written at the next flush)."""
        s = self.state
        for tid, why in bad.items():
            if tid in self._unwritable:
                log.error("task %s: not even its failure could be written (%s); left as stored", tid, why)
                continue
            self._unwritable.add(tid)
            cls = InvalidOutput if "output" in changes.get(tid, {}) else WriteFailed
            err = cls(f"the task's result could not be stored: {why}")
            log.error("task %s fails: its change could not be written (%s)", tid, why)
            act = s.active.get(tid)
            if act is not None:
                s.unqueue(act)
                if act.status is TaskStatus.PROCESSING:
                    self.dispatcher.cancel_running(tid)
                self.outcomes.finish(act, TaskStatus.FAILED, error=err)
                continue
            s.change(tid, status=TaskStatus.FAILED.value, output=None, error_code=err.code,
                     error_message=err.message, error_retryable=False, finished_at=utcnow(),
                     finish_seq=s.next_finish_seq(), next_attempt_at=None)

    async def loop(self) -> None:
        """Flush every 20 ms; record the gauges every second."""
        next_gauges = 0.0
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            if self.pending:
                await self.flush()
            if time.monotonic() >= next_gauges:
                next_gauges = time.monotonic() + _GAUGE_SECONDS
                self.record_gauges()

    def record_gauges(self) -> None:
        s = self.state
        metrics.dependency_up("store", s.watch.ok)
        if s.cache is not None:
            metrics.dependency_up("cache", not s.cache.down())
        for priority, n in s.queue_depth().items():
            metrics.queue_depth(priority, n)
        running = self.dispatcher.in_flight()
        now = time.monotonic()
        for name in s.registry.names():
            metrics.in_flight(name, running.get(name, 0))
            allowed = s.limiter.describe(s.registry.get(name), now)["rate_allowed_rpm"]
            if allowed is not None:
                metrics.provider_allowed_rpm(name, allowed)


__all__ = ["Writer"]
