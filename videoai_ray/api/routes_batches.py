"""Batches, budgets and spend over HTTP: a user's own batches (another user's id answers 404 like
an unknown one), their own daily budget, and what their tasks cost per day and provider."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from ..admission import field_error
from ..budget_rule import BudgetAmount
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(tags=["batches and budgets"])

_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such batch for this user"}, **ERROR_RESPONSES}


class BatchSummary(BaseModel):
    """A batch: items expected (``null`` while a stream of unknown size is sent) and submitted,
    ``missing`` (> 0 with no ``sealed_at``: its driver stopped early), tasks per status, spend."""

    id: str
    created_at: datetime
    expected: int | None
    submitted: int
    missing: int | None
    sealed_at: datetime | None
    counts: dict[str, int]
    cost_usd: float
    budget_usd: float | None


class BatchList(BaseModel):
    """The caller's batches, newest first."""

    batches: list[BatchSummary]
    count: int


class Budget(BaseModel):
    """The caller's own daily budget, the deployment's cap (``VIDEOAI_USER_DAILY_BUDGET_USD``),
    the one that applies (the lower), and what was spent today (UTC)."""

    budget_usd: float | None
    deployment_cap_usd: float | None
    effective_usd: float | None
    spent_today_usd: float


class BudgetBody(BaseModel):
    """Set the caller's own daily budget in USD (above 0, at most 1e9); ``null`` removes it."""

    model_config = ConfigDict(extra="forbid")

    budget_usd: BudgetAmount  # the SDK's rule (budget_rule): both doors refuse the same values


class SpendRow(BaseModel):
    day: date
    provider: str | None
    tasks: int
    cost_usd: float


class Spend(BaseModel):
    """The caller's spend per UTC day and provider, newest day first."""

    spend: list[SpendRow]
    total_usd: float
    days: int


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return BatchSummary.model_validate(row).model_dump(mode="json")


@router.get("/batches", response_model=BatchList, summary="List your batches, newest first", responses=ERROR_RESPONSES)
def list_batches(limit: int = Query(100, ge=1, le=500, description="most batches returned"),
                 caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    rows = [_summary(r) for r in ctx.service.batches.list(user_id, limit, user_prefix=prefix)]
    return JSONResponse({"batches": rows, "count": len(rows)})


@router.get("/batches/{batch_id}", response_model=BatchSummary, summary="Get a batch", responses=_NOT_FOUND)
def get_batch(batch_id: str = Path(min_length=1, max_length=100, description="the batch id (`batch_...`)"),
              caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    return JSONResponse(_summary(ctx.service.batches.get(batch_id, user_id, user_prefix=prefix)))


@router.get("/budget", response_model=Budget, summary="Your daily budget and today's spend", responses=ERROR_RESPONSES)
def get_budget(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(ctx.service.budgets.get(caller.user_id))


@router.put("/budget", response_model=Budget, summary="Set your daily budget", responses=ERROR_RESPONSES,
            openapi_extra=json_body_schema("BudgetBody"),
            description="Before an attempt of one of your tasks starts, its estimated cost plus what your "
                        "tasks spent today (UTC) and hold in flight must fit the lower of this budget and the "
                        "deployment's cap, or the task fails with `budget_exceeded`. A body that is not "
                        "JSON (or not UTF-8) is a 422 naming `body`, as on every route.")
async def put_budget(request: Request, caller: Caller = Depends(authorized),
                     ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    # read like every other body (``json_body``), not by FastAPI, whose answer to a body that is
    # not UTF-8 is an undocumented 400
    try:
        body = BudgetBody.model_validate(json_object(await json_body(request)))
    except ValidationError as e:
        raise field_error(e.errors()) from None
    return JSONResponse(await asyncio.to_thread(ctx.service.budgets.set, caller.user_id, body.budget_usd))


@router.get("/spend", response_model=Spend, summary="Your spend per day and provider", responses=ERROR_RESPONSES)
def spend(days: int = Query(30, ge=1, le=366, description="days back from today (UTC), today included"),
          caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads  # a tenant admin's: its whole tenant's spend
    rows = ctx.service.budgets.spend(user_id, days, user_prefix=prefix)
    body = {"spend": [SpendRow.model_validate(r).model_dump(mode="json") for r in rows],
            "total_usd": round(sum(r["cost_usd"] for r in rows), 6), "days": days}
    return JSONResponse(body)
