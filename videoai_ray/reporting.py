"""The worker side of the report protocol, for any actor that runs attempts (the I/O worker now,
model pools later), and the Scheduler such an actor talks to (``SchedulerLink``).

A finished attempt's result is held until the Scheduler confirms it is *written*: the Scheduler's
``report`` returns only after the transaction holding the result's state change commits. Until
then the result stays in ``owned()``, so a Scheduler that dies after accepting a report but before
writing it is replaced by one that adopts the attempt from this actor (and receives the report
again) instead of running it a second time.

The Scheduler that receives the reports is the one that exists *now*: Ray restarts a dead
Scheduler under the same actor id (the handle still reaches it), but one killed for good and
started again by a new ``connect()`` is another actor under the same name. The adopting Scheduler
tells the worker (``follow``, from its snapshot call), and a report that fails looks the name up
again before it is sent again, with a delay growing to ``_MAX_RETRY_SECONDS``; while no Scheduler
answers, the results stay held (a Scheduler started later adopts them) and the log says so once,
then once a minute, then once more when they are delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import ray

from .actor_names import NAMESPACE, scheduler_name

if TYPE_CHECKING:
    from .protocol import AttemptResult, Progress

log = logging.getLogger("videoai.executor")

_GATHER_SECONDS = 0.0  # one loop turn: results finishing together still travel in one call
_MAX_RETRY_SECONDS = 5.0
#: while reports fail, a reminder of what is held at most this often
_REMIND_SECONDS = 60.0


class SchedulerLink:
    """The handle of the instance's Scheduler, following it when it is replaced."""

    def __init__(self, handle: Any, instance: str) -> None:
        self.handle = handle
        self.instance = instance

    def follow(self, handle: Any) -> None:
        """Talk to ``handle`` from now on (the Scheduler that adopted this actor)."""
        self.handle = handle

    def lookup(self) -> bool:
        """Find the Scheduler registered under the instance's name now (blocking); ``False`` when
        there is none (killed, and not started again yet)."""
        try:
            self.handle = ray.get_actor(scheduler_name(self.instance), namespace=NAMESPACE)
        except ValueError:
            return False
        return True

    async def refresh(self) -> bool:
        """``lookup`` off the event loop."""
        return await asyncio.to_thread(self.lookup)


class ResultReporter:
    """Sends results and progress to the Scheduler in batches; keeps each result until written."""

    def __init__(self, link: SchedulerLink) -> None:
        self.link = link
        self._unsent: list[AttemptResult] = []
        #: every result not yet confirmed written: unsent or in a report call now
        self._held: dict[tuple[str, int], AttemptResult] = {}
        self._progress: dict[str, tuple[int, float, str | None]] = {}
        self._wake: asyncio.Event | None = None
        #: set when a new Scheduler adopts this actor: a report waiting to be sent again goes now
        self._followed: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sending loop (call from the actor's event loop; idempotent)."""
        if self._loop_task is None:
            self._wake = asyncio.Event()
            self._followed = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._send_loop())

    def follow(self, handle: Any) -> None:
        """Report to ``handle`` from now on, and send what is held to it at once."""
        self.link.follow(handle)
        if self._followed is not None:
            self._followed.set()

    def add(self, result: AttemptResult) -> None:
        self._held[(result.task_id, result.attempt)] = result
        self._unsent.append(result)
        self._progress.pop(result.task_id, None)
        if self._wake is not None:
            self._wake.set()

    def progress(self, task_id: str, attempt: int, value: float, message: str | None = None) -> None:
        self._progress[task_id] = (attempt, value, message)
        if self._wake is not None:
            self._wake.set()

    def owned(self) -> list[tuple[str, int]]:
        """``(task_id, attempt)`` of the results not yet confirmed written."""
        return list(self._held)

    def held(self) -> list[AttemptResult]:
        return list(self._held.values())

    async def _send_loop(self) -> None:
        assert self._wake is not None
        outage = _Outage()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(_GATHER_SECONDS)  # let a burst of results gather into one call
            results, self._unsent = self._unsent, []
            progress: list[Progress] = [(t, *p) for t, p in self._progress.items()]
            self._progress = {}
            if not results and not progress:
                continue
            try:
                await self.link.handle.report.remote(results, progress)
            except Exception as exc:
                # The Scheduler restarts, or is gone for good and another one takes its place:
                # keep the results, find the current Scheduler and send them again; a new one
                # adopts this actor's attempts first, so nothing runs twice.
                self._unsent = results + self._unsent
                await self._retry_later(outage, exc)
                continue
            outage.over(len(results))
            for r in results:  # written: the Scheduler's report returns after the commit
                self._held.pop((r.task_id, r.attempt), None)

    async def _retry_later(self, outage: _Outage, exc: Exception) -> None:
        assert self._wake is not None and self._followed is not None
        delay = outage.failed(exc, self.held(), self.link.instance)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._followed.wait(), delay)  # cut short by a new Scheduler
        if self._followed.is_set():
            self._followed.clear()  # the adopting Scheduler said where to report
        else:
            await self.link.refresh()
        self._wake.set()


class _Outage:
    """One stretch of failed reports: the delay before the next try, and a log that says what is
    held without repeating itself every few seconds."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.delay = 0.1
        self.reminded = 0.0

    def failed(self, exc: Exception, held: list[AttemptResult], instance: str) -> float:
        now = time.monotonic()
        tasks = sorted({r.task_id for r in held})
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        if self.since is None:
            self.since, self.reminded = now, now
            log.warning("could not report %d results to the Scheduler %s (%s); holding them and retrying, "
                        "with the Scheduler found by name again each time", len(held), scheduler_name(instance), why)
        elif now - self.reminded >= _REMIND_SECONDS:
            self.reminded = now
            log.warning("still holding %d results (tasks %s) after %.0fs: no Scheduler %s takes them (%s); "
                        "a Scheduler started with the same instance adopts them", len(held), ", ".join(tasks[:10]),
                        now - self.since, scheduler_name(instance), why)
        delay = self.delay
        self.delay = min(self.delay * 2, _MAX_RETRY_SECONDS)
        return delay

    def over(self, sent: int) -> None:
        if self.since is not None:
            log.warning("reported %d held results to the Scheduler after %.1fs of failed reports", sent,
                        time.monotonic() - self.since)
        self.since, self.delay = None, 0.1


__all__ = ["ResultReporter", "SchedulerLink"]
