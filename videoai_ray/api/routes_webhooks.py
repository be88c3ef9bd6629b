"""Webhook deliveries and signing secrets (``MediaService.webhooks``).

A delivery (``webhook_id``, the ``webhook-id`` header receivers see) of another user answers like
an unknown one (404). Handlers are plain functions: FastAPI runs their SQL in its thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..errors import InvalidRequest
from ..webhooks.schema import DELIVERY_STATUSES
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized
from .errors import ERROR_RESPONSES, ErrorBody, not_found

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_WEBHOOK_ID = Path(min_length=1, max_length=100, description="the delivery id (`webhook-id` header)")
_NOT_FOUND = {404: {"model": ErrorBody, "description": "no such delivery for this user"}, **ERROR_RESPONSES}


class WebhookSecret(BaseModel):
    """The caller's signing secret for tasks created without a ``webhook_secret``."""

    secret: str


class DeliveryList(BaseModel):
    """The caller's deliveries: a task's in event order, or all newest first."""

    deliveries: list[dict[str, Any]]


@router.get("", response_model=DeliveryList, summary="List webhook deliveries", responses=ERROR_RESPONSES)
def list_deliveries(task_id: str | None = Query(None, max_length=100, description="only this task's deliveries"),
                    status: str | None = Query(None, description=f"one of {', '.join(DELIVERY_STATUSES)}"),
                    limit: int = Query(100, ge=1, le=500), caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidRequest(f"status: must be one of {', '.join(DELIVERY_STATUSES)}", field="status")
    rows = ctx.service.webhooks.deliveries(caller.user_id, task_id, status=status, limit=limit)
    return JSONResponse({"deliveries": _json(rows)})


@router.get("/statistics", summary="Webhook delivery statistics of the caller", responses=ERROR_RESPONSES)
def delivery_statistics(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> dict[str, Any]:
    return ctx.service.webhooks.statistics(caller.user_id)


@router.get("/secret", response_model=WebhookSecret, summary="The caller's webhook signing secret",
            responses=ERROR_RESPONSES)
def get_secret(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> dict[str, str]:
    return {"secret": ctx.service.webhooks.secret(caller.user_id)}


@router.post("/secret/rotate", response_model=WebhookSecret, summary="Rotate the caller's webhook signing secret",
             description="The previous secret keeps signing (Standard Webhooks header) for 24 h.",
             responses=ERROR_RESPONSES)
def rotate_secret(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> dict[str, str]:
    return {"secret": ctx.service.webhooks.secret(caller.user_id, rotate=True)}


@router.get("/{webhook_id}/status", summary="One delivery with its attempt log", responses=_NOT_FOUND)
def delivery_status(webhook_id: str = _WEBHOOK_ID, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    row = ctx.service.webhooks.delivery(webhook_id, caller.user_id)
    if row is None:
        raise not_found("webhook", webhook_id)
    return JSONResponse(_json(row))


@router.post("/{webhook_id}/redeliver", summary="Send a delivery again", responses=_NOT_FOUND,
             description="A failed or delivered event goes back to pending with a fresh attempt budget "
                         "(same `webhook-id` and body); a pending one is returned unchanged.")
def redeliver(webhook_id: str = _WEBHOOK_ID, caller: Caller = Depends(authorized),
              ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    row = ctx.service.webhooks.redeliver(webhook_id, caller.user_id)
    if row is None:
        raise not_found("webhook", webhook_id)
    return JSONResponse(_json(row), status_code=202)


def _json(value: Any) -> Any:
    """Datetimes as ISO strings (the service returns aware ``datetime`` values)."""
    return jsonable_encoder(value)
