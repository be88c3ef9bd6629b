"""Provider A/B experiments over HTTP: create, list, get, stop and report on your own
experiments (another user's id answers 404 like an unknown one). An experiment on another user's
traffic, or on everyone's, needs a token with the ``admin`` claim (403 otherwise)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(prefix="/experiments", tags=["experiments"])

_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such experiment for this user"}, **ERROR_RESPONSES}
_ID = Path(min_length=1, max_length=100, description="the experiment id (`exp_...`)")


class ArmView(BaseModel):
    name: str
    provider: str
    weight: float


class ExperimentView(BaseModel):
    """An experiment: the task type it splits, its arms, the traffic it takes (``user_id``
    ``null``: every user's; ``metadata``: only tasks carrying these pairs), and whether it runs."""

    id: str
    owner_id: str
    name: str
    task_type: str
    arms: list[ArmView]
    baseline: str
    user_id: str | None
    metadata: dict[str, str | int | bool] | None
    created_at: datetime
    stopped_at: datetime | None
    status: str


class ExperimentList(BaseModel):
    """The caller's experiments, newest first."""

    experiments: list[ExperimentView]
    count: int


class ArmReport(BaseModel):
    """One arm's numbers. ``success_rate`` is completed / (completed + failed) over provider runs
    (cache hits and cancelled tasks left out), with its Wilson interval; latencies are seconds
    from first start to end of completed tasks; cost per finished task."""

    arm: str
    provider: str
    weight: float
    tasks: int
    running: int
    completed: int
    failed: int
    cancelled: int
    cache_hits: int
    decided: int
    success_rate: float | None
    success_rate_ci: list[float] | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    cost_usd: float
    cost_per_task_usd: float | None


class Comparison(BaseModel):
    """An arm against the baseline: differences (arm minus baseline) with 95 % intervals (success
    rate: Newcombe hybrid score; median latency: percentile bootstrap with a fixed seed)."""

    arm: str
    baseline: str
    success_rate_diff: float | None
    success_rate_diff_ci: list[float] | None
    latency_p50_diff_s: float | None
    latency_p50_diff_ci_s: list[float] | None


class ProviderRow(BaseModel):
    """The same tasks counted by the provider that actually ran them."""

    arm: str
    provider: str
    tasks: int
    completed: int
    failed: int
    success_rate: float | None
    latency_p50_s: float | None


class ExperimentReport(BaseModel):
    """The arms compared."""

    experiment: ExperimentView
    baseline: str
    tasks: int
    arms: list[ArmReport]
    comparisons: list[Comparison]
    by_provider: list[ProviderRow]
    methods: dict[str, str | float]


@router.post("", status_code=201, response_model=ExperimentView, summary="Start an experiment",
             responses={**ERROR_RESPONSES, 403: {"model": ErrorBody, "description": "needs an admin token"},
                        409: {"model": ErrorBody, "description": "`quota_exceeded`: you already run "
                                                                 "`VIDEOAI_USER_MAX_EXPERIMENTS` experiments"}},
             openapi_extra=json_body_schema("ExperimentSpec"))
async def create_experiment(request: Request, caller: Caller = Depends(authorized),
                            ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """Body: `ExperimentSpec`. From now on, tasks of its `task_type` submitted without `provider=`
    (by you, or by `user_id` / every user with an admin token; with `metadata` pairs, only tasks
    carrying them) get an arm by weight and run on its provider. Bad input is a 422 naming the
    field (`arms[1].provider`), and nothing is stored; so is one past the cap on your running
    experiments (409 `quota_exceeded`)."""
    body = json_object(await json_body(request))
    exp = await asyncio.to_thread(ctx.service.experiments.create, body, caller.user_id, admin=caller.admin)
    return JSONResponse(exp, status_code=201, headers={"Location": f"{request.url.path}/{exp['id']}"})


@router.get("", response_model=ExperimentList, summary="List your experiments, newest first",
            responses=ERROR_RESPONSES)
def list_experiments(limit: int = Query(100, ge=1, le=500, description="most experiments returned"),
                     caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    rows = ctx.service.experiments.list(user_id, limit, user_prefix=prefix)
    return JSONResponse({"experiments": rows, "count": len(rows)})


@router.get("/{experiment_id}", response_model=ExperimentReport, summary="An experiment's report",
            responses=_NOT_FOUND)
def get_experiment(experiment_id: str = _ID, caller: Caller = Depends(authorized),
                   ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """The experiment and its arms compared: count, success rate, latency p50/p95, cost per task,
    and each arm against the baseline with 95 % intervals."""
    user_id, prefix = caller.reads
    return JSONResponse(ctx.service.experiments.report(experiment_id, user_id, user_prefix=prefix))


@router.post("/{experiment_id}/stop", response_model=ExperimentView, summary="Stop an experiment",
             responses=_NOT_FOUND)
def stop_experiment(experiment_id: str = _ID, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """New tasks no longer join it; tasks already in it keep their arm. Idempotent."""
    return JSONResponse(ctx.service.experiments.stop(experiment_id, caller.user_id))


__all__ = ["router"]
