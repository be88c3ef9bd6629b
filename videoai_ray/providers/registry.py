"""ProviderRegistry: registration, live statistics, health, and the VideoAI API contract's selection strategies.

It lives inside the Scheduler actor (one process), so its counters are exact and need no locks.
A provider that fails ``breaker_failures`` times in a row is taken out of rotation for
``breaker_cooldown`` seconds (then one trial attempt is let through).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import NoProviderAvailable, ProviderRegistrationError
from ..models import Strategy, TaskRequest, TaskType
from ..redact import public_message
from .base import Provider, validate_provider
from .model import ModelProvider
from .resources import NodeType, declares_resources, needs, placement

_EWMA = 0.2


@dataclass
class ProviderStats:
    """Live numbers for one provider."""

    in_flight: int = 0
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    latency: float | None = None  # EWMA of successful attempt durations, seconds
    total_cost: float = 0.0
    open_until: float = 0.0  # breaker: out of rotation until this monotonic time
    trial_in_flight: bool = False
    last_error: str | None = None

    @property
    def success_rate(self) -> float | None:
        total = self.successes + self.failures
        return self.successes / total if total else None


@dataclass
class _Entry:
    provider: Provider
    stats: ProviderStats = field(default_factory=ProviderStats)


class ProviderRegistry:
    """The providers the scheduler may dispatch to."""

    def __init__(self, breaker_failures: int = 5, breaker_cooldown: float = 30.0, prefetch: int = 0) -> None:
        self._entries: dict[str, _Entry] = {}
        #: attempts an I/O worker may hold beyond its cap, started the moment a slot frees
        self.prefetch = prefetch
        self.breaker_failures = breaker_failures
        self.breaker_cooldown = breaker_cooldown
        #: total resources of each live node; ``None``: unknown (outside Ray), nothing is capped
        self.nodes: list[dict[str, float]] | None = None
        #: the node types the cluster's autoscaler may add (empty: the cluster does not grow)
        self.node_types: list[NodeType] = []
        #: provider -> (attempts the cluster can hold at once, why it can hold none)
        self._limits: dict[str, tuple[int, str | None]] = {}

    # -- the cluster -------------------------------------------------------------------------

    def set_nodes(self, nodes: list[dict[str, float]]) -> None:
        """Take the live nodes' totals and recompute every provider's placement limit."""
        if not nodes:
            return  # Ray did not answer: keep the last known cluster
        self.nodes = nodes
        self._limits = {name: self._placement(e.provider) for name, e in self._entries.items()}

    def set_node_types(self, node_types: list[NodeType]) -> None:
        """Take the node types the autoscaler may add: a provider that fits one of them is
        available (its work waits for the node), and its cap counts the nodes still to come."""
        if node_types == self.node_types:
            return
        self.node_types = list(node_types)
        self._limits = {name: self._placement(e.provider) for name, e in self._entries.items()}

    def _placement(self, p: Provider) -> tuple[int, str | None]:
        if self.nodes is None:
            return p.concurrency(), None
        types = self.node_types
        if isinstance(p, ModelProvider):
            actors, why = placement(needs(p), self.nodes, types)
            return p.slots(min(actors, p.pool_max)), why
        if p.cpu_bound:
            units, why = placement(needs(p), self.nodes, types)
            return min(units, p.concurrency()), why
        if declares_resources(p):  # one worker actor holds the resources
            units, why = placement(needs(p, num_cpus=0), self.nodes, types)
            return (p.concurrency() if units else 0), why
        return p.concurrency(), None

    def cap(self, name: str) -> int:
        """Attempts that may be in flight on ``name`` now: its concurrency, bounded by what the
        cluster can place at once."""
        limit = self._limits.get(name)
        return limit[0] if limit is not None else self._entries[name].provider.concurrency()

    def reason(self, name: str) -> str | None:
        """Why ``name`` cannot run anything: its own reason (a missing key, model, extra) or the
        cluster's (no node has the resources it declares)."""
        p = self._entries[name].provider
        own = p.unavailable_reason()
        if own:
            return own
        limit = self._limits.get(name)
        return limit[1] if limit is not None else None

    # -- registration ------------------------------------------------------------------------

    def register(self, provider: Provider, *, replace: bool = False) -> None:
        validate_provider(provider)
        if provider.name in self._entries and not replace:
            raise ProviderRegistrationError(
                f"a provider named {provider.name!r} is already registered (pass replace=True)"
            )
        old = self._entries.get(provider.name)
        self._entries[provider.name] = _Entry(provider, old.stats if old else ProviderStats())
        self._limits[provider.name] = self._placement(provider)

    def unregister(self, name: str) -> Provider:
        try:
            self._limits.pop(name, None)
            return self._entries.pop(name).provider
        except KeyError:
            raise ProviderRegistrationError(f"no provider named {name!r} is registered") from None

    def get(self, name: str) -> Provider:
        try:
            return self._entries[name].provider
        except KeyError:
            raise NoProviderAvailable(f"no provider named {name!r} is registered") from None

    def stats(self, name: str) -> ProviderStats:
        return self._entries[name].stats

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    # -- selection ---------------------------------------------------------------------------

    def candidates(self, task_type: TaskType, request: TaskRequest, pinned: str | None = None) -> list[str]:
        """Providers that could ever serve this request; empty means it can never run."""
        names = [pinned] if pinned else list(self._entries)
        out = []
        for name in names:
            entry = self._entries.get(name)
            if entry is None:
                continue
            p = entry.provider
            if task_type in p.task_types and self.reason(name) is None and p.supports(request):
                out.append(name)
        return out

    def explain_none(self, task_type: TaskType, request: TaskRequest, pinned: str | None) -> NoProviderAvailable:
        """The error for a request no provider can serve, saying why."""
        if pinned and pinned not in self._entries:
            return NoProviderAvailable(f"provider {pinned!r} is not registered")
        if getattr(request, "needs_translation", False):
            return NoProviderAvailable(
                "no translation-capable provider is available for subtitles "
                f"{getattr(request, 'source_language', '?')}→{getattr(request, 'target_language', '?')}"
                " (configure one, e.g. OPENAI_API_KEY)"
            )
        reasons = []
        for name, e in self._entries.items():  # a pinned provider speaks for itself alone
            if task_type in e.provider.task_types and (pinned is None or name == pinned):
                why = self.reason(name) or _unsupported(e.provider, request)
                reasons.append(f"{name}: {why}")
        detail = "; ".join(reasons) if reasons else (
            f"{pinned} does not serve it" if pinned else "none registered for this task type")
        return NoProviderAvailable(f"no available provider for {task_type.value} ({detail})")

    def pick(self, names: list[str], strategy: Strategy, request: TaskRequest, now: float | None = None,
             exclude: frozenset[str] | set[str] = frozenset(),
             admit: Callable[[str], bool] | None = None) -> str | None:
        """The best provider among ``names`` with a free slot (and that ``admit`` lets start an
        attempt now: the Scheduler's rate limiter), or ``None`` if all are busy or out of
        rotation. Providers in ``exclude`` (they failed this task) are used only when no other
        candidate exists."""
        now = time.monotonic() if now is None else now
        preferred = [n for n in names if n not in exclude] or names
        ready = [n for n in preferred if self._ready(n, now) and (admit is None or admit(n))]
        if not ready:
            return None
        return max(ready, key=lambda n: self._score(n, strategy, request))

    def preferred(self, names: list[str], strategy: Strategy, request: TaskRequest) -> str:
        """The provider ``strategy`` ranks first among ``names``, busy or not (estimates)."""
        return max(names, key=lambda n: self._score(n, strategy, request))

    def reopens_at(self, names: list[str], now: float) -> float | None:
        """The earliest time one of ``names`` leaves its breaker cooldown (``None``: none is out)."""
        times = [self._entries[n].stats.open_until for n in names
                 if n in self._entries and self._entries[n].stats.open_until > now]
        return min(times) if times else None

    def free_slot(self, name: str, now: float) -> bool:
        """``name`` could start an attempt now as far as its cap and its breaker go."""
        return name in self._entries and self._ready(name, now)

    def _ready(self, name: str, now: float) -> bool:
        e = self._entries[name]
        s = e.stats
        extra = 0 if e.provider.cpu_bound or isinstance(e.provider, ModelProvider) else self.prefetch
        if s.in_flight >= self.cap(name) + extra:
            return False
        if s.open_until > now:
            return False
        # half-open: after the cooldown, one trial attempt at a time
        return not (s.consecutive_failures >= self.breaker_failures and s.trial_in_flight)

    def _score(self, name: str, strategy: Strategy, request: TaskRequest) -> tuple[float, ...]:
        e = self._entries[name]
        p, s = e.provider, e.stats
        load = min(1.0, s.in_flight / max(1, self.cap(name)))
        if strategy is Strategy.QUALITY:
            return (p.quality, -load)
        if strategy is Strategy.SPEED:
            return (-(s.latency if s.latency is not None else 0.0), p.quality)
        if strategy is Strategy.COST:
            return (-p.estimate_cost(request), p.quality)
        if strategy is Strategy.RELIABILITY:
            rate = s.success_rate
            return (rate if rate is not None else 1.0, p.quality)
        return (-load, p.quality)  # LOAD_BALANCING

    # -- bookkeeping -------------------------------------------------------------------------

    def started(self, name: str) -> None:
        s = self._entries[name].stats if name in self._entries else None
        if s is None:
            return
        s.in_flight += 1
        if s.consecutive_failures >= self.breaker_failures:
            s.trial_in_flight = True

    def finished(self, name: str, *, ok: bool | None, duration: float | None = None,
                 cost: float | None = None, error: str | None = None, now: float | None = None) -> None:
        """Record the end of an attempt; ``ok=None`` means it says nothing about the provider's
        health (cancelled, lost worker, or the input's own fault)."""
        entry = self._entries.get(name)
        if entry is None:
            return
        s = entry.stats
        s.in_flight = max(0, s.in_flight - 1)
        s.trial_in_flight = False
        if cost:
            s.total_cost += cost
        if ok is True:
            s.successes += 1
            s.consecutive_failures = 0
            s.open_until = 0.0
            if duration is not None:
                s.latency = duration if s.latency is None else (1 - _EWMA) * s.latency + _EWMA * duration
        elif ok is False:
            s.failures += 1
            s.consecutive_failures += 1
            # shown to every user (GET /providers, /statistics): no URL, path or query string
            s.last_error = public_message(error)
            if s.consecutive_failures >= self.breaker_failures:
                s.open_until = (time.monotonic() if now is None else now) + self.breaker_cooldown

    def describe(self, now: float | None = None, pools: dict[str, dict[str, Any]] | None = None,
                 ) -> list[dict[str, Any]]:
        """One row per provider: what it is, whether it is usable, what it asks of the cluster,
        its pool (model providers) and its live numbers."""
        now = time.monotonic() if now is None else now
        rows = []
        for name, e in self._entries.items():
            p, s = e.provider, e.stats
            reason = self.reason(name)
            if reason:
                health = "unavailable"
            elif s.open_until > now:
                health = "open_circuit"
            elif s.consecutive_failures:
                health = "degraded"
            else:
                health = "healthy"
            rows.append({
                "name": name, "task_types": sorted(t.value for t in p.task_types),
                "description": p.description, "quality": p.quality,
                "max_concurrency": p.concurrency(), "cap": self.cap(name), "cpu_bound": p.cpu_bound,
                "resources": _declared(p), "pool": (pools or {}).get(name),
                "translates": p.translates, "languages": p.languages(),
                "available": reason is None, "unavailable_reason": reason,
                "health": health, "in_flight": s.in_flight, "successes": s.successes,
                "failures": s.failures, "success_rate": s.success_rate, "latency_s": s.latency,
                "total_cost": round(s.total_cost, 6), "last_error": s.last_error,
            })
        return rows


def _declared(p: Provider) -> dict[str, Any]:
    out: dict[str, Any] = {"num_cpus": p.num_cpus, "num_gpus": p.num_gpus}
    if p.accelerator_type:
        out["accelerator_type"] = p.accelerator_type
    if p.memory:
        out["memory"] = p.memory
    if p.resources:
        out["custom"] = dict(p.resources)
    return out


def _unsupported(p: Provider, request: TaskRequest) -> str:
    return p.explain_unsupported(request) or "does not support this request"
