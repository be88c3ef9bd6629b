"""A tenant's default webhook signing secret, under ``/api/v1/media/tenant/webhook-secret``: for
the tenant admin of that tenant only (403 for anyone else). Deliveries of the tenant's users who
have no secret of their own are signed with it, so a team's receiver verifies them all with one
secret (docs/tenants.md, docs/webhooks.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ..errors import Forbidden
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized
from .errors import ERROR_RESPONSES, ErrorBody
from .routes_webhooks import WebhookSecret

router = APIRouter(prefix="/tenant/webhook-secret", tags=["tenant webhook secret"])
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES, 403: {"model": ErrorBody, "description": "needs a tenant admin token"}}


def _own_tenant(caller: Caller) -> str:
    if caller.tenant is None or not caller.tenant_admin:
        raise Forbidden("a tenant's default webhook secret is its tenant admin's (videoai token create "
                        "--tenant-admin)", field="tenant")
    return caller.tenant


@router.get("", response_model=WebhookSecret, summary="This tenant's default webhook signing secret",
            description="Created on first use. Signs the deliveries of the tenant's users who have no secret of "
                        "their own (a user's `POST /webhooks/secret/rotate` gives them one).",
            responses=_RESPONSES)
async def get_tenant_secret(caller: Caller = Depends(authorized),
                            ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    tenant = _own_tenant(caller)
    return JSONResponse({"secret": await asyncio.to_thread(ctx.service.webhooks.tenant_secret, tenant)})


@router.post("/rotate", response_model=WebhookSecret, summary="Rotate this tenant's default webhook signing secret",
             description="The previous secret keeps signing (Standard Webhooks header) for 24 h.", responses=_RESPONSES)
async def rotate_tenant_secret(caller: Caller = Depends(authorized),
                               ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    tenant = _own_tenant(caller)
    secret = await asyncio.to_thread(ctx.service.webhooks.tenant_secret, tenant, rotate=True)
    return JSONResponse({"secret": secret})
