"""The one wait loop: read, and while what was read is not final, sleep on the Scheduler's change
version (until it commits a change, or a slice passes), until a deadline.

Every wait of the package is this loop: a task's (``MediaService.tasks.wait``, ``wait_async``, the
HTTP API's ``?wait=``), a pipeline's, a batch's finished tasks (``Batch.as_completed``) and a
pipeline step's (``StepFuture.wait``). None polls the store on a timer: each read follows a
committed change or a slice of ``WAIT_SLICE`` seconds, whichever comes first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

#: the longest single sleep of a wait on the Scheduler's change version, in seconds
WAIT_SLICE = 5.0


class HasDone(Protocol):
    """What a wait reads: a task, a pipeline, anything that says when it is final."""

    @property
    def done(self) -> bool: ...


#: what ``until_done`` reads and returns
Waited = TypeVar("Waited", bound=HasDone)


class _Deadline:
    def __init__(self, timeout: float | None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (``None``: no deadline; at most zero: time is up)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def next_slice(self) -> float | None:
        """How long the next sleep may last, or ``None`` when time is up."""
        left = self.remaining()
        if left is None:
            return WAIT_SLICE
        return None if left <= 0 else min(WAIT_SLICE, left)


class VersionWait(_Deadline):
    """One wait, for sync code. ``version(since, timeout)`` returns the Scheduler's change
    version once it passes ``since`` (or ``timeout`` passes): ``MediaService.version``."""

    def __init__(self, version: Callable[[int, float], int], timeout: float | None) -> None:
        super().__init__(timeout)
        self._version = version
        # the version before the first read: a change committed after it ends the first sleep
        self._seen = version(0, 0)

    def sleep(self) -> bool:
        """Sleep until the next committed change or the end of a slice; ``False`` (at once) when
        time is up."""
        left = self.next_slice()
        if left is None:
            return False
        self._seen = self._version(self._seen, left)
        return True

    def until_done(self, read: Callable[[], Waited]) -> Waited:
        """``read()`` once what it returns is ``done``, or as it is when time is up."""
        while True:
            item = read()
            if item.done or not self.sleep():
                return item


class AsyncVersionWait(_Deadline):
    """One wait, for async code (the event loop keeps running): ``start`` it."""

    def __init__(self, version: Callable[[int, float], Awaitable[int]], timeout: float | None, seen: int) -> None:
        super().__init__(timeout)
        self._version = version
        self._seen = seen

    @classmethod
    async def start(cls, version: Callable[[int, float], Awaitable[int]], timeout: float | None) -> AsyncVersionWait:
        wait = cls(version, timeout, 0)
        wait._seen = await version(0, 0)
        return wait

    async def sleep(self) -> bool:
        """``VersionWait.sleep``, awaited."""
        left = self.next_slice()
        if left is None:
            return False
        self._seen = await self._version(self._seen, left)
        return True

    async def until_done(self, read: Callable[[], Awaitable[Waited]]) -> Waited:
        """``VersionWait.until_done`` with an awaited ``read``."""
        while True:
            item = await read()
            if item.done or not await self.sleep():
                return item


__all__ = ["WAIT_SLICE", "AsyncVersionWait", "HasDone", "VersionWait", "Waited"]
