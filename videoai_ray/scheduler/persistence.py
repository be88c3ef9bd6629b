"""The Scheduler's writes: pending state changes go out in batched transactions every 20 ms;
callers that must know a change is durable (a worker's report) wait for the commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOutput, WriteFailed
from ..models import TaskStatus
from ..store import utcnow
from .faults import kill_before_write_if_armed
from .writes import write_or_split

if TYPE_CHECKING:
    from .actor import Scheduler
    from .events import EventSink

log = logging.getLogger("videoai.scheduler")

_FLUSH_SECONDS = 0.02
_MAX_WRITE_DELAY = 5.0
_GAUGE_SECONDS = 1.0


class PersistenceMixin:
    """Batched writes, the version waiters sleep on, and the write-failure handling."""

    events: EventSink
    version: int
    _version_event: asyncio.Event | None
    #: while the store cannot be reached: when to try the write again, and the current delay
    _write_retry_at: float
    _write_delay: float

    async def written(self: Scheduler) -> None:  # type: ignore[misc]
        """Return once every change made so far is committed (at the next successful flush)."""
        if not self.changes and not self.events.pending:
            return
        if self._version_event is None:
            self.flush()
            return
        await self._version_event.wait()

    async def wait_version(self: Scheduler, since: int, timeout: float) -> int:  # type: ignore[misc]
        """Return once a state change newer than ``since`` was committed, or after ``timeout``."""
        if self.version > since or self._version_event is None:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._version_event.wait()), timeout)
        return self.version

    def flush(self: Scheduler) -> None:  # type: ignore[misc]
        """Write pending changes and outbox rows in one transaction, then wake waiters.

        A write that fails on a bad value is split so the other tasks' changes are written and the
        bad task fails; one that fails because the store is unreachable is kept and tried again
        with a growing delay (up to 5 s)."""
        if not self.changes and not self.events.pending:
            return
        if time.monotonic() < self._write_retry_at:
            return
        changes, self.changes = list(self.changes.values()), {}
        events = self.events.take_events()
        kill_before_write_if_armed(self.settings.fault_kill_file, changes)
        try:
            bad = write_or_split(self.store, changes, events)
        except Exception:
            self._write_delay = min(max(self._write_delay * 2, 0.1), _MAX_WRITE_DELAY)
            self._write_retry_at = time.monotonic() + self._write_delay
            log.error("the store cannot be reached; %d task changes wait (next try in %.1fs)",
                      len(changes), self._write_delay, exc_info=self._write_delay >= _MAX_WRITE_DELAY)
            for ch in changes:  # keep them (newer changes win)
                merged = {**ch, **self.changes.get(ch["id"], {})}
                self.changes[ch["id"]] = merged
            self.events.give_back(events)
            return
        self._write_delay = 0.0
        if bad:
            self._fail_unwritable(bad, {ch["id"]: ch for ch in changes})
        self.events.committed(events)
        self.version = max(self.version + 1, int(time.time() * 1000))
        if self._version_event is not None:
            self._version_event.set()
            self._version_event = asyncio.Event()

    def _fail_unwritable(self: Scheduler, bad: dict[str, str], changes: dict[str, dict[str, Any]]) -> None:  # type: ignore[misc]
        """The tasks whose change could not be written fail instead (written at the next flush)."""
        for tid, why in bad.items():
            if tid in self._unwritable:
                log.error("task %s: not even its failure could be written (%s); left as stored", tid, why)
                continue
            self._unwritable.add(tid)
            cls = InvalidOutput if "output" in changes.get(tid, {}) else WriteFailed
            err = cls(f"the task's result could not be stored: {why}")
            log.error("task %s fails: its change could not be written (%s)", tid, why)
            act = self.active.get(tid)
            if act is not None:
                q = self.queues.get(act.route)
                if q is not None:
                    q.remove(tid)
                if act.status is TaskStatus.PROCESSING:
                    self.dispatcher.cancel_running(tid)
                self.finish(act, TaskStatus.FAILED, error=err)
                continue
            self.finish_seq += 1
            self.change(tid, status=TaskStatus.FAILED.value, output=None, error_code=err.code,
                        error_message=err.message, error_retryable=False, finished_at=utcnow(),
                        finish_seq=self.finish_seq, next_attempt_at=None)

    async def flush_now(self: Scheduler) -> int:  # type: ignore[misc]
        """Write what is pending now (used before reading a task just changed)."""
        self.flush()
        return self.version

    async def _flush_loop(self: Scheduler) -> None:  # type: ignore[misc]
        next_gauges = 0.0
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            if self.changes or self.events.pending:
                self.flush()
            if time.monotonic() >= next_gauges:
                next_gauges = time.monotonic() + _GAUGE_SECONDS
                self._record_gauges()
