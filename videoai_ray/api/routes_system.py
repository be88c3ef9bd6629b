"""Statistics, providers, cache and health: the VideoAI API contract's monitoring endpoints."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..placement import control_plane_of
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized
from .errors import ERROR_RESPONSES

#: seconds a health probe waits for the Scheduler and the store
HEALTH_TIMEOUT = 3.0

router = APIRouter(tags=["monitoring"])


class TenantShareView(BaseModel):
    """The caller's tenant in the fair sharing between tenants (docs/tenants.md)."""

    id: str
    #: the attempts of all of the tenant's users running now (``null`` with fair sharing off)
    in_flight: int | None
    #: the tenant's share of turns against the other tenants
    weight: float
    #: the most attempts the tenant's users may have running together (``null``: no cap)
    max_in_flight: int | None
    #: the tenant is at that cap: its users' next tasks wait, other tenants' go ahead
    at_cap: bool


class FairShareView(BaseModel):
    """The caller's own place in the fair sharing between users (docs/fairness.md)."""

    #: ``false``: the deployment runs strict FIFO within a priority (``VIDEOAI_FAIR_SHARE``)
    enabled: bool
    #: the caller's tasks waiting for a provider slot (``null`` with fair sharing off)
    queued: int | None
    queued_by_priority: dict[str, int] | None
    #: the caller's attempts running now (``null`` with fair sharing off)
    in_flight: int | None
    #: the caller's share of turns against other users waiting at the same priority
    weight: float
    #: the most attempts the caller may have running at once (``null``: no cap)
    max_in_flight: int | None
    #: the caller is at that cap: their next task waits, other users' tasks go ahead
    at_cap: bool
    #: the caller's tenant, for a tenant's user (``null`` otherwise)
    tenant: TenantShareView | None = None


class Statistics(BaseModel):
    """The caller's task statistics (seed): totals, success rate, per type and provider, queue."""

    total_tasks: int
    by_status: dict[str, int]
    success_rate: float | None
    cache_hits: int
    by_type: dict[str, dict[str, Any]]
    by_provider: dict[str, dict[str, Any]]
    #: the same per model the requests named (``model``: ``whisper-1``, a catalogue entry...);
    #: tasks without one are not in it
    by_model: dict[str, dict[str, Any]] = {}
    total_cost: float
    queue_depth: dict[str, int]
    in_flight: dict[str, int]
    providers: list[dict[str, Any]]
    cache: dict[str, Any]
    #: schedules per state, ticks fired and missed (``store.schedules.schedule_counts``)
    schedules: dict[str, Any] | None = None
    #: the caller's pipelines: ``total``, ``by_status``, ``success_rate``
    pipelines: dict[str, Any] = {}
    fair_share: FairShareView | None = None


class ProviderList(BaseModel):
    """Every registered provider, its availability, health and live numbers."""

    providers: list[dict[str, Any]]
    count: int


class HealthReport(BaseModel):
    """``healthy`` (200) when the Scheduler and the store answer (the store with the newest
    schema), ``unhealthy`` (503) otherwise; ``degraded`` (200) when no provider is available or a
    cache layer is out. ``checks.control_plane`` says which node each control-plane actor runs on
    (the head node)."""

    status: str
    instance: str
    checks: dict[str, dict[str, Any]]


@router.get("/statistics", response_model=Statistics, summary="Task statistics of the caller",
            responses=ERROR_RESPONSES)
def statistics(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads  # a tenant admin's: its whole tenant's work
    return JSONResponse(ctx.service.monitor.statistics(user_id, user_prefix=prefix, live_user=caller.user_id))


@router.get("/providers", response_model=ProviderList, summary="Registered providers and their health",
            responses=ERROR_RESPONSES)
def providers(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    rows = ctx.service.providers.list()
    return JSONResponse({"providers": rows, "count": len(rows)})


@router.get("/cache/stats", summary="Result cache hit/miss statistics per layer", responses=ERROR_RESPONSES)
async def cache_stats(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> dict[str, Any]:
    return await ctx.service.monitor.cache_stats_async()


async def _timed(coro: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = await asyncio.wait_for(coro, HEALTH_TIMEOUT)
    return out, round((time.perf_counter() - start) * 1000, 2)


def _failed(exc: BaseException) -> dict[str, Any]:
    reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
    return {"status": "error", "error": reason[:300]}


@router.get("/health", response_model=HealthReport, summary="Health of Ray, the Scheduler, the store, cache "
            "and providers (no auth)", responses={503: {"model": HealthReport, "description": "unhealthy"}})
async def health(ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    try:
        runtime = ray.get_runtime_context()
        checks["ray"] = {"status": "ok", "initialized": ray.is_initialized(), "node_id": runtime.get_node_id()}
    except Exception as e:
        checks["ray"] = _failed(e)
    live: dict[str, Any] | None = None
    try:
        live, ms = await _timed(ctx.service.monitor.live_stats_async())
        own = live.get("health") or {}  # the Scheduler's own view of its store and cache
        checks["scheduler"] = {"status": "ok", "latency_ms": ms, "active_tasks": live.get("active"),
                               "queue_depth": live.get("queue_depth"), "in_flight": live.get("in_flight"),
                               "degraded": own.get("status", "ok") != "ok", "store": own.get("store"),
                               "recovered": own.get("recovered")}
    except Exception as e:
        checks["scheduler"] = _failed(e)

    try:
        found, ms = await _timed(asyncio.to_thread(ctx.service.monitor.store_revision))
        # a store without the newest schema (an empty database, another one) fails every request
        ok = found["revision"] == found["expected"]
        checks["store"] = {"status": "ok" if ok else "error", "latency_ms": ms, **found}
        if not ok:
            checks["store"]["error"] = await asyncio.to_thread(ctx.service.monitor.store_problem)
    except Exception as e:
        checks["store"] = _failed(e)
    try:
        placed, _ = await _timed(asyncio.to_thread(control_plane_of, ctx.settings))
        checks["control_plane"] = {"status": "ok" if placed["all_on_head"] else "degraded", **placed}
    except Exception as e:
        checks["control_plane"] = _failed(e)
    if live is not None:
        provs = live.get("providers") or []
        available = [p["name"] for p in provs if p.get("available")]
        cache_down = ((live.get("health") or {}).get("cache") or {}).get("down") or []
        checks["cache"] = {"status": "degraded" if cache_down else "ok", "down": cache_down,
                           **(live.get("cache") or {"enabled": False})}
        checks["providers"] = {"status": "ok" if available else "degraded", "total": len(provs),
                               "available": available}
    batcher = ctx.batcher
    checks["api"] = {"status": "ok", "rate_limiter": ctx.limiter.backend, "submit_calls": batcher.calls,
                     "submitted": batcher.items}
    healthy = checks["scheduler"]["status"] == "ok" and checks["store"]["status"] == "ok"
    whole = all(checks.get(part, {}).get("status") == "ok" for part in ("providers", "cache"))
    status = ("healthy" if whole else "degraded") if healthy else "unhealthy"
    body = {"status": status, "instance": ctx.settings.instance, "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
