"""The Scheduler's start in any weather.

Ray never restarts an actor whose constructor raised, so the constructor touches nothing outside
the process: no store, no disk cache. What a start needs from the store (the schema brought up to
date, the last finish sequence number, the runtime provider registrations, the unfinished tasks)
is read here, on the actor's event loop but in a thread, and tried again with backoff (0.5 s
doubling up to ``store_retry_max``) while the store is out. Until then the Scheduler runs
degraded: ``ready()`` answers, ``health`` and the ``videoai_dependency_up`` gauge say why, a
submit is refused with ``StoreUnavailable`` (nothing is accepted that could not be written), and a
worker's report waits (it keeps its results until they are written). Once the store answers, the
unfinished tasks are recovered exactly as at a normal start and the loops begin.

The disk cache opens at its first use for the same reason; a cache layer that fails is skipped
for a while and tried again (``TieredCache``), and ``health`` names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StoreUnavailable
from ..models import Task
from ..outage_errors import describe
from ..providers.base import Provider

if TYPE_CHECKING:
    from .recovery import Recovery
    from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")

_FIRST_DELAY = 0.5


@dataclass(slots=True)
class _Found:
    """What a start reads from the store."""

    finish_seq: int
    registrations: list[Provider]
    unfinished: list[Task]
    fields: dict[str, dict[str, Any]]
    #: every tenant's limits (``tenants.limit_spec``), so they bind from the first dispatch on
    tenant_limits: dict[str, Any]


class Startup:
    """Reaches the store (``connect``), then lets the Scheduler's loops begin; says how it stands."""

    def __init__(self, state: SchedulerState, recovery: Recovery, register: Callable[[Provider], None]) -> None:
        self.state = state
        self.recovery = recovery
        self.register = register
        #: set once the store answered and the unfinished tasks were recovered (an Event binds to
        #: the loop that first waits on it, so it can be made here)
        self.done = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.done.is_set()

    async def require(self) -> None:
        """Return once the store was reached since the start (a first start brings the schema up
        to date: that may take a while); ``StoreUnavailable`` when it still is not after the
        connect and statement timeouts."""
        if not self.connected:
            st = self.state.settings
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.done.wait()),
                                       st.store_connect_timeout + st.store_statement_timeout)
        if not self.connected:
            w = self.state.watch
            raise StoreUnavailable(f"the Scheduler has not reached its task store since it started ({w.status}: "
                                   f"{w.error or 'connecting'}); nothing was accepted, try again shortly")

    async def connect(self) -> None:
        """Read what a start needs, with backoff while the store is out; then load the unfinished
        tasks (the caller starts its loops, then sets ``done``)."""
        s = self.state
        delay = _FIRST_DELAY
        first_error = True
        while True:
            try:
                found = await s.watch.call(self._read)
                break
            except Exception as exc:
                if not s.watch.failed(exc, "the Scheduler runs degraded until it answers"):
                    s.watch.down("unreachable", describe(exc))
                    if first_error:  # not an outage: a bug or a bad schema, worth its trace (once)
                        log.error("the Scheduler's start could not read its store; trying again", exc_info=True)
                        first_error = False
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, s.settings.store_retry_max)
        s.finish_seq = max(s.finish_seq, found.finish_seq)
        # tasks pinned to a provider not registered yet wait this long from now, not from the constructor
        s.provider_grace_until = time.monotonic() + s.settings.provider_grace_seconds
        for provider in found.registrations:  # before any task is recovered
            self.register(provider)
        s.tenants.apply(found.tenant_limits)  # then ``TenantLimitBook.loop`` keeps them fresh
        self.recovery.load(found.unfinished, found.fields)

    def _read(self) -> _Found:
        """In a thread: the schema, the last finish sequence, registrations, unfinished tasks,
        tenants' limits."""
        from ..store.migrate import upgrade
        from ..store.registrations import load_registrations
        from ..store.tenants import list_tenants

        s = self.state
        upgrade(s.store.engine)
        finish_seq = s.store.max_finish_seq()
        registrations = load_registrations(s.store.engine, s.settings.instance)
        unfinished, fields = self.recovery.read()
        limits = {r["id"]: r["limits"] for r in list_tenants(s.store.engine, instance=s.settings.instance)}
        return _Found(finish_seq, registrations, unfinished, fields, limits)

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "store": {...}, "cache": {...}, "recovered": bool}``."""
        s = self.state
        down = s.cache.down() if s.cache is not None else []
        cache = {"status": "degraded" if down else "ok", "down": down}
        degraded = not s.watch.ok or bool(down) or not self.connected
        return {"status": "degraded" if degraded else "ok", "store": s.watch.view(), "cache": cache,
                "recovered": self.connected}


__all__ = ["Startup"]
