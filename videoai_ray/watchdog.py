"""A loop-lag watchdog for actors that run provider code on an asyncio event loop.

``asyncio.wait_for`` cannot interrupt a provider whose ``run`` blocks the loop (``time.sleep``,
CPU work, a blocking client): the timeout only fires once the loop runs again, and meanwhile every
other attempt on the loop waits too. The watchdog is a thread: the loop stamps a heartbeat every
tenth of a second, and when the stamp is old while an attempt is past its deadline, the thread
names the attempts to blame (the one the loop is running, if it is an attempt) and calls
``on_blocked`` once. The owner then has the attempt timed out and the actor replaced.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("videoai.executor")

_BEAT_SECONDS = 0.1
_CHECK_SECONDS = 0.1
#: a loop that has not run for this long is blocked (not merely busy)
_BLOCKED_LAG = 0.5

Attempt = tuple[str, int]


def attempt_task_name(task_id: str, attempt: int) -> str:
    """The name of the asyncio task that runs one attempt's provider code."""
    return f"videoai-attempt:{task_id}:{attempt}"


def _attempt_of(task: asyncio.Task[object] | None) -> Attempt | None:
    name = task.get_name() if task is not None else ""
    if not name.startswith("videoai-attempt:"):
        return None
    _, tid, att = name.rsplit(":", 2)
    return tid, int(att)


class LoopWatchdog:
    """Calls ``on_blocked(attempts, lag_seconds)`` (from its thread, once) when the loop is
    blocked and attempts are more than ``grace`` seconds past their deadlines."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deadlines: dict[Attempt, float],
                 on_blocked: Callable[[list[Attempt], float], None], grace: float) -> None:
        self.loop = loop
        #: monotonic deadline of each running attempt; written by the loop, read by the thread
        self.deadlines = deadlines
        self.on_blocked = on_blocked
        self.grace = grace
        self.beat = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the heartbeat (on the loop) and the watching thread; call from the loop."""
        if self._thread is not None:
            return
        self.loop.create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._watch, name="videoai-loop-watchdog", daemon=True)
        self._thread.start()

    async def _heartbeat(self) -> None:
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(_BEAT_SECONDS)

    def _watch(self) -> None:
        while True:
            time.sleep(_CHECK_SECONDS)
            now = time.monotonic()
            lag = now - self.beat
            if lag < _BLOCKED_LAG:
                continue
            try:
                overdue = [k for k, d in list(self.deadlines.items()) if now > d + self.grace]
            except RuntimeError:  # changed while copied: the loop is running after all
                continue
            if not overdue:
                continue
            running = _attempt_of(asyncio.current_task(self.loop))
            culprits = [running] if running in overdue else overdue
            log.error("event loop blocked for %.1fs by provider code; timing out %s", lag, culprits)
            try:
                self.on_blocked(culprits, lag)
            except Exception:
                log.error("could not hand over the blocked attempts", exc_info=True)
            return


__all__ = ["LoopWatchdog", "attempt_task_name"]
