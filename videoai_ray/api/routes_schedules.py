"""Scheduled tasks over HTTP: a user's own schedules (another user's id answers 404 like an
unknown one). A bad cron expression (or one firing more often than the minimum interval), time
zone, ``at`` or target answers 422 naming the field, one past the user's cap 409, and nothing is
stored."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ..schedules.service import MAX_NEXT_RUNS
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(tags=["schedules"])

_ID = Path(min_length=1, max_length=100, description="the schedule id (`sched_...`)")
_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such schedule for this user"}, **ERROR_RESPONSES}


class RunTime(BaseModel):
    utc: str
    local: str


class ScheduleView(BaseModel):
    """A schedule: its trigger, target, state, next run times (UTC and its time zone) and ticks.
    ``ticks_fired`` counts the tasks (or pipelines) it created (a catch-up run is one); ``ticks_missed`` the
    ticks that came later than ``misfire_grace_seconds`` (merged into a catch-up run or skipped)."""

    id: str
    name: str | None
    state: str
    kind: str
    cron: str | None
    at: str | None
    timezone: str
    target: dict[str, Any]
    misfire: str
    misfire_grace_seconds: float
    next_run_at: str | None
    next_runs: list[RunTime]
    ticks_fired: int
    ticks_missed: int
    last_tick_at: str | None
    last_task_id: str | None
    #: the pipeline the latest tick started (a pipeline target)
    last_pipeline_id: str | None = None
    last_error: str | None
    created_at: str
    updated_at: str


class ScheduleList(BaseModel):
    """The caller's schedules, newest first."""

    schedules: list[ScheduleView]
    count: int


@router.post("/schedules", status_code=201, response_model=ScheduleView, summary="Create a schedule",
             responses={**ERROR_RESPONSES, 409: {"model": ErrorBody, "description": (
                 "`quota_exceeded`: you already hold `VIDEOAI_USER_MAX_SCHEDULES` active or paused schedules")}},
             openapi_extra=json_body_schema("ScheduleRequest"),
             description="Run a task or a pipeline on a cron expression in an IANA time zone, or once `at` a time. "
                         "Each tick runs exactly once, across restarts of the Scheduler; ticks missed "
                         "while it was down follow `misfire` (`run_once`: one catch-up run, the default; "
                         "`skip`: none). A cron that fires more often than "
                         "`VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS` is refused (422 naming `cron`).")
async def create_schedule(request: Request, caller: Caller = Depends(authorized),
                          ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    body = json_object(await json_body(request))
    view = await asyncio.to_thread(ctx.service.schedules.create, body, user_id=caller.user_id, http=True,
                                   tenant=caller.tenant, share=caller.share)
    return JSONResponse(view, status_code=201)


@router.get("/schedules", response_model=ScheduleList, summary="List your schedules, newest first",
            responses=ERROR_RESPONSES)
def list_schedules(limit: int = Query(100, ge=1, le=500, description="most schedules returned"),
                   caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    rows = ctx.service.schedules.list(user_id, limit, user_prefix=prefix)
    return JSONResponse({"schedules": rows, "count": len(rows)})


@router.get("/schedules/{schedule_id}", response_model=ScheduleView, summary="Get a schedule", responses=_NOT_FOUND)
def get_schedule(schedule_id: str = _ID,
                 n_next: int = Query(5, alias="next", ge=0, le=MAX_NEXT_RUNS,
                                     description="how many next run times to show"),
                 caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    return JSONResponse(ctx.service.schedules.get(schedule_id, user_id, n_next, user_prefix=prefix))


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleView, summary="Pause a schedule",
             responses=_NOT_FOUND)
def pause_schedule(schedule_id: str = _ID, caller: Caller = Depends(authorized),
                   ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(ctx.service.schedules.pause(schedule_id, caller.user_id))


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleView, summary="Resume a schedule",
             responses=_NOT_FOUND, description="Ticks that fell while it was paused do not run.")
def resume_schedule(schedule_id: str = _ID, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(ctx.service.schedules.resume(schedule_id, caller.user_id))


@router.delete("/schedules/{schedule_id}", status_code=204, summary="Delete a schedule", responses=_NOT_FOUND,
               description="The tasks it already created stay.")
def delete_schedule(schedule_id: str = _ID, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> Response:
    ctx.service.schedules.delete(schedule_id, caller.user_id)
    return Response(status_code=204)

