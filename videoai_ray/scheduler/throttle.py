"""Where the Scheduler meets its rate limiter (``ratelimit.py``): which providers may start a
task now, what counts as throttled, the tokens a start takes, and the gate a worker passes right
before its provider sends (``rate_gate``)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .. import metrics

if TYPE_CHECKING:
    from ..providers.base import Provider
    from .actor import Scheduler
    from .state import Active

log = logging.getLogger("videoai.scheduler")


def usage(provider: Provider, act: Active) -> dict[str, float]:
    """``provider.rate_usage`` (plug-in code: a failure counts one request and is logged)."""
    try:
        return dict(provider.rate_usage(act.request))
    except Exception:
        log.warning("%s.rate_usage failed for task %s; counting one request", provider.name, act.id, exc_info=True)
        return {}


def wait(s: Scheduler, name: str, act: Active, now: float) -> float:
    """Seconds until ``name``'s rate limiter lets ``act`` start (0: now)."""
    provider = s.registry.get(name)
    return s.limiter.wait(provider, usage(provider, act), now)


def admits(s: Scheduler, act: Active, now: float, name: str) -> bool:
    return wait(s, name, act, now) <= 0.0


def note_held(s: Scheduler, act: Active, names: list[str], now: float) -> float | None:
    """``act`` could not start. If only rate limiters held it (some provider had a free slot and
    a closed breaker), count it as throttled and return when the first of them lets it go."""
    waits = {n: wait(s, n, act, now) for n in names if s.registry.free_slot(n, now)}
    if not waits or min(waits.values()) <= 0.0:
        return None  # capacity or a breaker held it, not throttling
    for n in waits:
        s.limiter.held(s.registry.get(n), act.id, now)
    return now + min(waits.values())


def take(s: Scheduler, name: str, act: Active, now: float) -> None:
    """``act`` starts on ``name``: its usage leaves the buckets; its wait is counted."""
    provider = s.registry.get(name)
    for group, seconds in s.limiter.take(provider, usage(provider, act), act.id, now):
        metrics.provider_throttled(group, seconds)


class ThrottleMixin:
    """The Scheduler's ``rate_gate``."""

    async def rate_gate(self: Scheduler, task_id: str, attempt: int) -> None:  # type: ignore[misc]
        """Return when the attempt may send its requests: at once unless late deliveries have
        bunched starts of its provider's group (see ``ratelimit.GroupLimiter.gate``)."""
        while True:
            act = self.active.get(task_id)
            if act is None or act.attempts != attempt or not act.provider or act.provider not in self.registry:
                return  # cancelled or superseded: the worker finds out itself
            provider = self.registry.get(act.provider)
            delay = self.limiter.gate(provider, usage(provider, act), time.monotonic())
            if delay <= 0.0:
                return
            await asyncio.sleep(delay)


__all__ = ["ThrottleMixin", "admits", "note_held", "take", "usage", "wait"]
