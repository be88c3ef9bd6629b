"""The worker side of the report protocol, for any actor that runs attempts (the I/O worker now,
model pools later).

A finished attempt's result is held until the Scheduler confirms it is *written*: the Scheduler's
``report`` returns only after the transaction holding the result's state change commits. Until
then the result stays in ``owned()``, so a Scheduler that dies after accepting a report but before
writing it is replaced by one that adopts the attempt from this actor (and receives the report
again) instead of running it a second time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .executor import AttemptResult

log = logging.getLogger("videoai.executor")

_GATHER_SECONDS = 0.0  # one loop turn: results finishing together still travel in one call


class ResultReporter:
    """Sends results and progress to the Scheduler in batches; keeps each result until written."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._unsent: list[AttemptResult] = []
        #: every result not yet confirmed written: unsent or in a report call now
        self._held: dict[tuple[str, int], AttemptResult] = {}
        self._progress: dict[str, tuple[int, float]] = {}
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sending loop (call from the actor's event loop; idempotent)."""
        if self._loop_task is None:
            self._wake = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._send_loop())

    def add(self, result: AttemptResult) -> None:
        self._held[(result.task_id, result.attempt)] = result
        self._unsent.append(result)
        self._progress.pop(result.task_id, None)
        if self._wake is not None:
            self._wake.set()

    def progress(self, task_id: str, attempt: int, value: float) -> None:
        self._progress[task_id] = (attempt, value)
        if self._wake is not None:
            self._wake.set()

    def owned(self) -> list[tuple[str, int]]:
        """``(task_id, attempt)`` of the results not yet confirmed written."""
        return list(self._held)

    def held(self) -> list[AttemptResult]:
        return list(self._held.values())

    async def _send_loop(self) -> None:
        assert self._wake is not None
        delay = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(_GATHER_SECONDS)  # let a burst of results gather into one call
            results, self._unsent = self._unsent, []
            progress = [(t, att, v) for t, (att, v) in self._progress.items()]
            self._progress = {}
            if not results and not progress:
                continue
            try:
                await self.scheduler.report.remote(results, progress)
                delay = 0.1
            except Exception:
                # The Scheduler is restarting: keep the results and send them again; the new one
                # adopts this actor's attempts first, so nothing runs twice.
                log.warning("could not report %d results; retrying in %.1fs", len(results), delay, exc_info=True)
                self._unsent = results + self._unsent
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._wake.set()
                continue
            for r in results:  # written: the Scheduler's report returns after the commit
                self._held.pop((r.task_id, r.attempt), None)


__all__ = ["ResultReporter"]
