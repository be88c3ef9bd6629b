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
    from .state import Active, SchedulerState

log = logging.getLogger("videoai.scheduler")


def usage(provider: Provider, act: Active) -> dict[str, float]:
    """``provider.rate_usage`` (plug-in code: a failure counts one request and is logged)."""
    try:
        return dict(provider.rate_usage(act.request))
    except Exception:
        log.warning("%s.rate_usage failed for task %s; counting one request", provider.name, act.id, exc_info=True)
        return {}


def wait(state: SchedulerState, name: str, act: Active, now: float) -> float:
    """Seconds until ``name``'s rate limiter lets ``act`` start (0: now)."""
    provider = state.registry.get(name)
    return state.limiter.wait(provider, usage(provider, act), now)


def admits(state: SchedulerState, act: Active, now: float, name: str) -> bool:
    return wait(state, name, act, now) <= 0.0


def note_held(state: SchedulerState, act: Active, names: list[str], now: float) -> float | None:
    """``act`` could not start. If only rate limiters held it (some provider had a free slot and
    a closed breaker), count it as throttled and return when the first of them lets it go."""
    waits = {n: wait(state, n, act, now) for n in names if state.registry.free_slot(n, now)}
    if not waits or min(waits.values()) <= 0.0:
        return None  # capacity or a breaker held it, not throttling
    for n in waits:
        state.limiter.held(state.registry.get(n), act.id, now)
    return now + min(waits.values())


def take(state: SchedulerState, name: str, act: Active, now: float) -> None:
    """``act`` starts on ``name``: its usage leaves the buckets; its wait is counted."""
    provider = state.registry.get(name)
    for group, seconds in state.limiter.take(provider, usage(provider, act), act.id, now):
        metrics.provider_throttled(group, seconds)


async def rate_gate(state: SchedulerState, task_id: str, attempt: int) -> None:
    """Return when the attempt may send its requests: at once unless late deliveries have
    bunched starts of its provider's group (see ``ratelimit.GroupLimiter.gate``)."""
    while True:
        act = state.active.get(task_id)
        if act is None or act.attempts != attempt or not act.provider or act.provider not in state.registry:
            return  # cancelled or superseded: the worker finds out itself
        provider = state.registry.get(act.provider)
        delay = state.limiter.gate(provider, usage(provider, act), time.monotonic())
        if delay <= 0.0:
            return
        await asyncio.sleep(delay)


__all__ = ["admits", "note_held", "rate_gate", "take", "usage", "wait"]
