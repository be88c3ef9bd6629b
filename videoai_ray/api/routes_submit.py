"""Creating tasks: the four media endpoints of the VideoAI API contract and ``POST /batch``.

Bodies are read as plain JSON and handed to ``MediaService.prepare`` / ``prepare_batch``, the one
validator (their models are only *referenced* in the OpenAPI document). Accepted tasks go to the
core through the context's ``SubmitBatcher``; the answer is ``202`` with the task, or ``200``
with the finished task when ``?wait=N`` was given and it finished in time.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..batch_lifecycle import BatchLifecycle
from ..budget_rule import check_budget
from ..errors import InvalidRequest
from ..models import (
    MAX_HTTP_BATCH,
    REQUEST_MODELS,
    Task,
    TaskStatus,
    TaskType,
    submitted_task_json,
)
from ..protocol import Submission, SubmitAnswer
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody
from .fastpath import FastRoute, Param, documented
from .views import BatchResponse, TaskResponse, task_links, task_view

#: the longest ``?wait=`` accepted, in seconds
MAX_WAIT_SECONDS = 60.0
MAX_IDEMPOTENCY_KEY = 200

router = APIRouter(tags=["tasks"])

_CREATED = {
    200: {"model": TaskResponse, "description": "with `?wait=N`: the task finished within N seconds"},
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "the Idempotency-Key was used before with another request"},
    413: {"model": ErrorBody, "description": "request body over the size limit"},
}


#: body fields whose check makes a DNS lookup
_URL_FIELDS = frozenset({"webhook_url", *(f for m in REQUEST_MODELS.values() for f in m.input_url_fields)})


async def _prepare(fn: Callable[[], Any], body: dict[str, Any]) -> Any:
    # A URL is checked with a DNS lookup: keep that off the event loop.
    return await asyncio.to_thread(fn) if not _URL_FIELDS.isdisjoint(body) else fn()


def _done(task: Task | dict[str, Any]) -> bool:
    return TaskStatus(task["status"] if isinstance(task, dict) else task.status).terminal


async def _accepted(ctx: ApiContext, caller: Caller, prepared: Submission, answer: SubmitAnswer,
                    wait: float) -> JSONResponse:
    task: Task | dict[str, Any] = submitted_task_json(prepared, answer)
    status = 202
    if wait > 0:
        if not _done(task):
            task = await ctx.service.tasks.wait_async(answer["id"], caller.user_id, wait)
        status = 200 if _done(task) else 202
    headers = {"Location": task_links(answer["id"])["self"]}
    if answer.get("existing"):
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(task_view(task, ctx.artifacts), status_code=status, headers=headers)


def _media_endpoint(task_type: TaskType) -> Callable[[Request], Awaitable[JSONResponse]]:
    # The hot path of the API, a ``fastpath.FastRoute``: it takes only the request and reads its
    # query and header itself (``WAIT``, ``IDEMPOTENCY_KEY``).
    async def create(request: Request) -> JSONResponse:
        ctx: ApiContext = request.app.state.ctx
        caller = await authorized(request)
        wait = WAIT.read(request)
        idempotency_key = IDEMPOTENCY_KEY.read(request)
        body = json_object(await json_body(request))
        prepared = await _prepare(lambda: ctx.service.prepare(
            task_type, body, user_id=caller.user_id, idempotency_key=idempotency_key, http=True,
            tenant=caller.tenant, share=caller.share), body)
        [answer] = await ctx.batcher.submit([prepared])
        return await _accepted(ctx, caller, prepared, answer, wait)

    return create


def wait_seconds(raw: str | None) -> float:
    """``?wait=`` as seconds (422 naming ``wait`` unless a number from 0 to ``MAX_WAIT_SECONDS``)."""
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise InvalidRequest(f"wait: must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}", field="wait")
    return wait


def idempotency_key_of(raw: str | None) -> str | None:
    """The ``Idempotency-Key`` header (422 naming it unless 1 to 200 characters)."""
    if raw is not None and not 1 <= len(raw) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(f"Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                             field="Idempotency-Key")
    return raw


def budget_of(raw: str | None) -> float | None:
    """``?budget_usd=`` as an amount (422 naming it unless a finite number above 0)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"budget_usd: must be an amount in USD, got {raw[:40]!r}", field="budget_usd") from None
    return check_budget(value)


WAIT = Param("wait", "query", {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 0},
             "seconds to wait for the task to finish; answers 200 with the finished task if it does, "
             "else 202 as without it", wait_seconds)
IDEMPOTENCY_KEY = Param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
                                                       "maxLength": MAX_IDEMPOTENCY_KEY},
                        "repeat a request with the same key to get the same task back (the same key with "
                        "another route or body answers 409)", idempotency_key_of)
BUDGET = Param("budget_usd", "query", {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9},
               "the most this batch may spend, in USD: an attempt that could take it over is not started "
               "and its task fails with `budget_exceeded`", budget_of)

_MEDIA_ROUTES = [
    ("/images/generate", TaskType.IMAGE_GENERATION, "Generate images"),
    ("/videos/generate", TaskType.VIDEO_GENERATION, "Generate a video"),
    ("/audio/transcribe", TaskType.AUDIO_TRANSCRIPTION, "Transcribe audio"),
    ("/subtitles/generate", TaskType.SUBTITLE_GENERATION, "Generate subtitles"),
]

for _path, _type, _summary in _MEDIA_ROUTES:
    _model = REQUEST_MODELS[_type]
    router.add_api_route(
        _path, _media_endpoint(_type), methods=["POST"], status_code=202, response_model=TaskResponse,
        summary=_summary, name=f"create_{_type.value}", operation_id=f"create_{_type.value}",
        description=f"Create a `{_type.value}` task. Body: `{_model.__name__}`. " + (_model.__doc__ or ""),
        responses=_CREATED, route_class_override=FastRoute,
        openapi_extra=documented([WAIT, IDEMPOTENCY_KEY], json_body_schema(_model.__name__)),
    )


@router.post("/batch", status_code=202, response_model=BatchResponse, summary="Create up to 50 tasks at once",
             responses={**ERROR_RESPONSES, 409: _CREATED[409], 413: _CREATED[413]},
             openapi_extra=documented([IDEMPOTENCY_KEY, BUDGET],
                                      json_body_schema("BatchItem", array=True, max_items=MAX_HTTP_BATCH)))
async def create_batch(request: Request, caller: Caller = Depends(authorized),
                       ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """A JSON array of `{task_type, input_data, priority}`. All or nothing: when one item is
    invalid nothing is created and the error names its index (`[3].input_data.prompt`). The batch
    is listed by `GET /batches` (`?budget_usd=` gives it a budget)."""
    idempotency_key = IDEMPOTENCY_KEY.read(request)
    budget = BUDGET.read(request)
    items = await json_body(request)
    if not isinstance(items, list) or not items:
        raise InvalidRequest("body: must be a non-empty JSON array of batch items", field="body")
    if len(items) > MAX_HTTP_BATCH:
        raise InvalidRequest(f"body: a batch holds at most {MAX_HTTP_BATCH} tasks, got {len(items)} "
                             "(use the SDK's client.batch for more)", field="body")
    batch_id = "batch_" + uuid.uuid4().hex
    prepared = await asyncio.to_thread(
        lambda: list(ctx.service.prepare_batch(items, user_id=caller.user_id, batch_id=batch_id, http=True,
                                               tenant=caller.tenant, share=caller.share,
                                               idempotency_key=idempotency_key)))
    life = BatchLifecycle(ctx.service, batch_id, caller.user_id, budget)
    await asyncio.to_thread(life.open, len(prepared))
    try:
        answers = await ctx.batcher.submit(prepared)
    except BaseException:
        await asyncio.to_thread(life.discard)  # its items go in one Scheduler call (one transaction): none is stored
        raise
    replayed = await asyncio.to_thread(life.end, answers)
    tasks = [task_view(submitted_task_json(p, a), ctx.artifacts) for p, a in zip(prepared, answers, strict=True)]
    batch = tasks[0].get("batch_id") or batch_id
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse({"batch_id": batch, "count": len(tasks), "tasks": tasks}, status_code=202, headers=headers)

