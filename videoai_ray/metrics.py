"""Ray metrics (``ray.util.metrics``) for the Ray dashboard and Prometheus.

The Scheduler, the webhook dispatcher and the cache call the small functions below; each records
into a Counter, Gauge or Histogram named ``videoai_*`` (Prometheus shows them as ``ray_videoai_*``,
counters with a ``_total`` suffix). Metric objects are made lazily, once per process, the first
time they are used inside a Ray worker or driver. Outside Ray (unit tests, tools, the CLI before
``ray.init``) every function is a no-op, and no function ever raises: monitoring must not fail a
task. Every metric carries an ``instance`` tag (``Settings.instance``; see :func:`set_instance`)
so several deployments on one cluster stay apart.

The per-task counters (submitted, finished) also carry a ``tenant`` tag, taken from the task's
owner id (``<tenant>/<user>``) and bounded (:class:`TenantLabels`): the first
``VIDEOAI_METRICS_MAX_TENANTS`` distinct tenants a process records get their own value, every
later one shares ``_other``, and a user without a tenant is ``_none``. Neither can be a tenant id
(those start with a-z or 0-9), so no tenant's series is ever mixed into them by its name. A user
never becomes a label.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .tenants.ids import tenant_of

log = logging.getLogger("videoai.metrics")

#: seconds: task durations (queue excluded) and provider calls, from 10 ms to 1 h
DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0]
#: seconds: webhook deliveries (the HTTP timeout defaults to 10 s)
#: attempts per model batch
BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128]
WEBHOOK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: kind (``counter``/``gauge``/``histogram``), name, help text, tag keys."""

    kind: str
    name: str
    description: str
    tag_keys: tuple[str, ...]
    boundaries: tuple[float, ...] = ()

    @property
    def prometheus_name(self) -> str:
        """The name in Ray's Prometheus export (histograms add ``_bucket``/``_sum``/``_count``)."""
        return f"ray_{self.name}" + ("_total" if self.kind == "counter" else "")


SPECS: dict[str, MetricSpec] = {s.name: s for s in (
    MetricSpec("counter", "videoai_tasks_submitted", "Tasks accepted by the scheduler.", ("task_type", "tenant")),
    MetricSpec("counter", "videoai_tasks_finished", "Tasks that reached a terminal state.",
               ("task_type", "provider", "status", "tenant")),
    MetricSpec("histogram", "videoai_task_duration_seconds", "Start to end of finished tasks, in seconds.",
               ("task_type", "provider", "status"), tuple(DURATION_BUCKETS)),
    MetricSpec("gauge", "videoai_queue_depth", "Tasks waiting for a provider slot, per priority.", ("priority",)),
    MetricSpec("gauge", "videoai_in_flight", "Attempts running now, per provider.", ("provider",)),
    MetricSpec("histogram", "videoai_provider_latency_seconds", "Duration of successful provider attempts.",
               ("provider",), tuple(DURATION_BUCKETS)),
    MetricSpec("counter", "videoai_provider_cost_usd", "Provider spend in US dollars.", ("provider",)),
    MetricSpec("counter", "videoai_provider_throttled", "Attempts that waited for a provider's rate limiter.",
               ("provider",)),
    MetricSpec("counter", "videoai_provider_throttled_seconds",
               "Seconds attempts waited for a provider's rate limiter.", ("provider",)),
    MetricSpec("gauge", "videoai_provider_allowed_rpm",
               "Requests per minute the rate limiter lets a provider start now (lowered after a 429).",
               ("provider",)),
    MetricSpec("counter", "videoai_provider_rate_limited",
               "Provider attempts that ended in the provider's rate limit (HTTP 429).", ("provider",)),
    MetricSpec("counter", "videoai_webhook_deliveries", "Webhook delivery attempts, by outcome.", ("outcome",)),
    MetricSpec("histogram", "videoai_webhook_latency_seconds", "Webhook delivery attempt latency.",
               ("outcome",), tuple(WEBHOOK_BUCKETS)),
    MetricSpec("counter", "videoai_cache_lookups", "Cache lookups per layer; result is hit or miss.",
               ("layer", "result")),
    MetricSpec("gauge", "videoai_pool_actors", "Actors in a model provider's pool.", ("provider",)),
    MetricSpec("counter", "videoai_model_loads", "Model weight loads (one per pool actor).", ("provider",)),
    MetricSpec("gauge", "videoai_dependency_up",
               "1 while the Scheduler reaches a dependency (store, cache), 0 while it runs degraded without it.",
               ("dependency",)),
    MetricSpec("histogram", "videoai_batch_size", "Attempts per batch sent to a pool actor.", ("provider",),
               tuple(BATCH_BUCKETS)),
)}

#: the ``tenant`` value of a user without a tenant, and of tenants past the bound
NO_TENANT = "_none"
OTHER_TENANTS = "_other"
#: how many tenants get their own ``tenant`` value unless ``set_max_tenants`` says otherwise
DEFAULT_MAX_TENANTS = 20


class TenantLabels:
    """The ``tenant`` tag of an owner id, with at most ``limit`` distinct tenant values: the first
    ``limit`` tenants seen keep theirs for the life of the process, later ones share
    ``OTHER_TENANTS`` (a label with unbounded values would grow Prometheus without end)."""

    def __init__(self, limit: int = DEFAULT_MAX_TENANTS) -> None:
        self.limit = max(0, int(limit))
        self._own: set[str] = set()
        self._lock = threading.Lock()

    def of(self, owner: str | None) -> str:
        """The ``tenant`` tag of the task of ``owner`` (an owner id)."""
        tenant = tenant_of(owner) if owner else None
        if tenant is None:
            return NO_TENANT
        if tenant in self._own:
            return tenant
        with self._lock:
            if tenant in self._own or len(self._own) < self.limit:
                self._own.add(tenant)
                return tenant
        return OTHER_TENANTS

    def labelled(self) -> frozenset[str]:
        """The tenants that have their own value now."""
        with self._lock:
            return frozenset(self._own)


_tenants = TenantLabels()
_metrics: dict[str, Any] = {}
_lock = threading.Lock()
_instance = "default"
_warned = False


def set_instance(instance: str) -> None:
    """Tag every metric of this process with ``instance`` (call once, e.g. in the Scheduler)."""
    global _instance
    _instance = str(instance)
    with _lock:
        for m in _metrics.values():
            m.set_default_tags({"instance": _instance})


def set_max_tenants(limit: int) -> None:
    """Give at most ``limit`` tenants their own ``tenant`` tag in this process
    (``Settings.metrics_max_tenants``; call once, with ``set_instance``, before recording)."""
    global _tenants
    _tenants = TenantLabels(limit)


def tenant_label(owner: str | None) -> str:
    """The ``tenant`` tag this process records for a task of ``owner``."""
    return _tenants.of(owner)


def _ray_ready() -> bool:
    try:
        import ray

        return bool(ray.is_initialized())
    except Exception:
        return False


def _metric(name: str) -> Any:
    """The metric object for ``name``, made on first use; ``None`` outside Ray."""
    m = _metrics.get(name)
    if m is not None or not _ray_ready():
        return m
    from ray.util import metrics as rm

    spec = SPECS[name]
    keys = (*spec.tag_keys, "instance")
    with _lock:
        m = _metrics.get(name)
        if m is None:
            if spec.kind == "counter":
                m = rm.Counter(spec.name, spec.description, keys)
            elif spec.kind == "gauge":
                m = rm.Gauge(spec.name, spec.description, keys)
            else:
                m = rm.Histogram(spec.name, spec.description, list(spec.boundaries), keys)
            m.set_default_tags({"instance": _instance})
            _metrics[name] = m
    return m


def _tag(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    return "none" if value is None or value == "" else str(value)


def _record(name: str, method: str, value: float, **tags: Any) -> bool:
    """Record one value; returns False when nothing was recorded (outside Ray, or an error)."""
    global _warned
    try:
        m = _metric(name)
        if m is None:
            return False
        getattr(m, method)(float(value), tags={k: _tag(v) for k, v in tags.items()})
        return True
    except Exception:  # never let monitoring fail the caller
        if not _warned:
            _warned = True
            log.warning("recording metric %s failed (further failures are logged at debug)", name, exc_info=True)
        else:
            log.debug("recording metric %s failed", name, exc_info=True)
        return False


# -- the functions the system calls -------------------------------------------------------------


def tasks_submitted(task_type: Any, n: int = 1, owner: str | None = None) -> None:
    """``n`` new tasks of ``task_type`` owned by ``owner`` (an owner id) were accepted (cache hits
    included)."""
    if n > 0:
        _record("videoai_tasks_submitted", "inc", n, task_type=task_type, tenant=tenant_label(owner))


def task_finished(task_type: Any, provider: Any, status: Any, duration_s: float | None = None,
                  owner: str | None = None) -> None:
    """A task of ``owner`` ended (``completed``/``failed``/``cancelled``); ``duration_s`` is start
    to end, when it ever started (a cache hit or a cancel while queued has none)."""
    _record("videoai_tasks_finished", "inc", 1, task_type=task_type, provider=provider, status=status,
            tenant=tenant_label(owner))
    if duration_s is not None and duration_s >= 0:
        _record("videoai_task_duration_seconds", "observe", duration_s, task_type=task_type, provider=provider,
                status=status)


def queue_depth(priority: Any, n: int) -> None:
    """Tasks waiting now at ``priority`` (a gauge: the latest value wins)."""
    _record("videoai_queue_depth", "set", max(0, n), priority=priority)


def in_flight(provider: Any, n: int) -> None:
    """Attempts running now on ``provider`` (a gauge)."""
    _record("videoai_in_flight", "set", max(0, n), provider=provider)


def provider_latency(provider: Any, seconds: float) -> None:
    """One provider attempt took ``seconds``."""
    if seconds >= 0:
        _record("videoai_provider_latency_seconds", "observe", seconds, provider=provider)


def provider_cost(provider: Any, usd: float | None) -> None:
    """``usd`` was spent on ``provider`` (zero and unknown costs are skipped)."""
    if usd:
        _record("videoai_provider_cost_usd", "inc", usd, provider=provider)


def provider_throttled(provider: Any, seconds: float) -> None:
    """An attempt waited ``seconds`` for the rate limiter of ``provider`` (or its rate group)."""
    _record("videoai_provider_throttled", "inc", 1, provider=provider)
    if seconds > 0:
        _record("videoai_provider_throttled_seconds", "inc", seconds, provider=provider)


def provider_allowed_rpm(provider: Any, rpm: float) -> None:
    """Requests per minute the limiter lets ``provider`` start now (a gauge)."""
    _record("videoai_provider_allowed_rpm", "set", rpm, provider=provider)
def provider_rate_limited(provider: Any) -> None:
    """An attempt on ``provider`` ended because the provider said to slow down (``rate_limited``)."""
    _record("videoai_provider_rate_limited", "inc", 1, provider=provider)


def webhook_delivery(outcome: Any, latency_s: float | None = None) -> None:
    """One webhook delivery attempt ended: ``outcome`` is the delivery's new status
    (``delivered``, ``pending`` = will retry, ``failed`` = given up)."""
    _record("videoai_webhook_deliveries", "inc", 1, outcome=outcome)
    if latency_s is not None and latency_s >= 0:
        _record("videoai_webhook_latency_seconds", "observe", latency_s, outcome=outcome)


def cache_lookup(layer: Any, hits: int, misses: int) -> None:
    """A lookup round in cache ``layer`` (``l1``/``l2``/``l3``, or ``all`` for the tiered cache as a
    whole) found ``hits`` and missed ``misses``."""
    if hits > 0:
        _record("videoai_cache_lookups", "inc", hits, layer=layer, result="hit")
    if misses > 0:
        _record("videoai_cache_lookups", "inc", misses, layer=layer, result="miss")


def pool_size(provider: Any, n: int) -> None:
    """Actors in ``provider``'s pool now (a gauge)."""
    _record("videoai_pool_actors", "set", max(0, n), provider=provider)


def model_load(provider: Any, seconds: float) -> None:
    """A pool actor of ``provider`` loaded its model (``seconds`` is kept in the actor's listing)."""
    _record("videoai_model_loads", "inc", 1, provider=provider)


def batch_size(provider: Any, n: int) -> None:
    """A batch of ``n`` attempts went to one of ``provider``'s pool actors."""
    _record("videoai_batch_size", "observe", n, provider=provider)


def dependency_up(dependency: str, up: bool) -> None:
    """The Scheduler reaches ``dependency`` (``store``, ``cache``) now, or runs degraded without it."""
    _record("videoai_dependency_up", "set", 1.0 if up else 0.0, dependency=dependency)


def names() -> list[str]:
    """Every metric name, as recorded (``videoai_*``)."""
    return list(SPECS)

