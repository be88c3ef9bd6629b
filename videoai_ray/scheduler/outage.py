"""The Scheduler's view of its store: up, or out since when and why (unreachable, stalled, disk
full), as ``health``, ``ready()`` and the ``videoai_dependency_up`` gauge report it.

Every store call that can block goes through :meth:`StoreWatch.call`: it runs in a thread, so the
actor's event loop never waits on the store (``ready()`` and ``health`` answer during a stall). A
call still running after the statement timeout marks the store ``stalled``; it is never started a
second time while the first may still commit, and its caller keeps waiting for its real outcome.

Outages are logged on their edges: one line when the store goes (with why), one when it is back,
however many calls failed in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .. import metrics
from ..outage_errors import describe, disk_full, unreachable

log = logging.getLogger("videoai.scheduler")

T = TypeVar("T")


class StoreWatch:
    """Whether the store answers, since when it does not, and the off-loop call every part uses."""

    def __init__(self, timeout: float) -> None:
        #: seconds a call may take before the store counts as stalled (``store_statement_timeout``)
        self.timeout = timeout
        #: ``ok``, or why the store is out: ``connecting`` (not reached since start),
        #: ``unreachable``, ``stalled``, ``disk_full``
        self.status = "connecting"
        self.error: str | None = None
        self.since = time.time()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def view(self) -> dict[str, Any]:
        """``{"status", "error", "down_since"}`` (the last two ``None`` while the store is up)."""
        return {"status": self.status, "error": self.error, "down_since": None if self.ok else self.since}

    def down(self, status: str, error: str, waiting: str = "") -> None:
        """The store is out: logged once per outage (a change of reason is logged too)."""
        if self.status == status:
            self.error = error
            return
        if self.ok:
            self.since = time.time()
        self.status, self.error = status, error
        metrics.dependency_up("store", False)
        log.error("the store is out (%s: %s)%s; the Scheduler carries on and tries again with backoff",
                  _WHY[status], error, f"; {waiting}" if waiting else "")

    def failed(self, exc: BaseException, waiting: str = "") -> bool:
        """Record a failed call; ``True`` when it failed because the store is out (not a bad value)."""
        if not unreachable(exc):
            return False
        self.down("disk_full" if disk_full(exc) else "unreachable", describe(exc), waiting)
        return True

    def up(self) -> None:
        """A call succeeded: an outage ends here (one line)."""
        if self.ok:
            return
        if self.status != "connecting":
            log.warning("the store is back after %.0f s of outage (%s)", time.time() - self.since, self.status)
        self.status, self.error = "ok", None
        metrics.dependency_up("store", True)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a thread; the store counts as stalled while it runs past the timeout, and
        as up again (or out, with why) once it ends. Raises what ``fn`` raises."""
        task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if not done:
            self.down("stalled", f"a store call has not answered in {self.timeout:.0f} s")
        try:
            out = await asyncio.shield(task)
        except Exception as exc:
            self.failed(exc)
            raise
        self.up()
        return out


_WHY = {"unreachable": "cannot be reached", "stalled": "stalled", "disk_full": "disk full",
        "connecting": "not reached yet"}


__all__ = ["StoreWatch"]
