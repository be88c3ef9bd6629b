"""Pipelines over HTTP: create one (all of it validated before anything is stored: an unknown
step reference or a cycle is a 422 naming the step), read it with its steps, list, cancel. Only
the caller's own pipelines exist for them: another user's id answers 404 like an unknown one."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..pipelines.model import PipelineRecord
from .auth import Caller
from .context import API_PREFIX, ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody
from .fastpath import documented
from .routes_submit import IDEMPOTENCY_KEY

router = APIRouter(tags=["pipelines"])

_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such pipeline for this user"}, **ERROR_RESPONSES}
_ID = Path(min_length=1, max_length=100, description="the pipeline id (`pipe_...`)")


class PipelineList(BaseModel):
    """The caller's pipelines, newest first."""

    pipelines: list[PipelineRecord]
    count: int


def _view(record: PipelineRecord) -> dict[str, Any]:
    body = record.model_dump(mode="json")
    body["links"] = {"self": f"{API_PREFIX}/pipelines/{record.id}",
                     "cancel": f"{API_PREFIX}/pipelines/{record.id}/cancel"}
    return body


@router.post("/pipelines", status_code=202, response_model=PipelineRecord, summary="Start a pipeline of tasks",
             responses={**ERROR_RESPONSES, 409: {"model": ErrorBody, "description":
                                                 "the Idempotency-Key was used before with another pipeline"}},
             openapi_extra=documented([IDEMPOTENCY_KEY], json_body_schema("PipelineSpec")))
async def create_pipeline(request: Request, caller: Caller = Depends(authorized),
                          ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """Body: `PipelineSpec`. A step's input value may be `{"$ref": "<step>.output.<path>"}` (or
    `.input.`; with `"as": "cues"` a transcript's segments become subtitle cues): the step starts
    once the steps it refers to have completed. A failed step fails the pipeline and cancels the
    rest; `pipeline.completed` / `pipeline.failed` / `pipeline.cancelled` go to `webhook_url`."""
    idempotency_key = IDEMPOTENCY_KEY.read(request)
    body = json_object(await json_body(request))
    record, existing = await asyncio.to_thread(lambda: ctx.service.pipelines.start(
        body, user_id=caller.user_id, idempotency_key=idempotency_key, http=True, tenant=caller.tenant,
        share=caller.share))
    headers = {"Location": f"{API_PREFIX}/pipelines/{record.id}"}
    if existing:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(_view(record), status_code=202, headers=headers)


@router.get("/pipelines", response_model=PipelineList, summary="List your pipelines, newest first",
            responses=ERROR_RESPONSES)
def list_pipelines(limit: int = Query(50, ge=1, le=500, description="most pipelines returned"),
                   caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    records = [_view(r) for r in ctx.service.pipelines.list(user_id, limit, public=True, user_prefix=prefix)]
    return JSONResponse({"pipelines": records, "count": len(records)})


@router.get("/pipelines/{pipeline_id}", response_model=PipelineRecord, summary="Get a pipeline and its steps",
            responses=_NOT_FOUND)
def get_pipeline(pipeline_id: str = _ID, caller: Caller = Depends(authorized),
                 ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    user_id, prefix = caller.reads
    return JSONResponse(_view(ctx.service.pipelines.get(pipeline_id, user_id, public=True, user_prefix=prefix)))


@router.post("/pipelines/{pipeline_id}/cancel", response_model=PipelineRecord,
             summary="Cancel a pipeline and its remaining steps",
             responses={**_NOT_FOUND, 409: {"model": ErrorBody, "description": "the pipeline already ended"}})
def cancel_pipeline(pipeline_id: str = _ID, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(_view(ctx.service.pipelines.cancel(pipeline_id, caller.user_id, public=True)))
