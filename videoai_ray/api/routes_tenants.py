"""The deployment's tenants over HTTP, under ``/api/v1/admin/tenants``: for a token with the
``operator`` claim only (403 otherwise, a tenant's own admin included: running the deployment's
tenants is not any one tenant's business). Suspending a tenant takes effect within
``tenant_cache_seconds`` on every replica (docs/tenants.md).

``DELETE /{id}`` removes a suspended tenant and everything it has (``?force=true`` suspends an active
one first); ``POST /{id}/export`` writes its rows (Parquet) and files under the deployment's
export folder (``VIDEOAI_TENANT_EXPORT_URL``): the caller never names a location on the server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..errors import Forbidden
from ..tenants.ids import TENANT_ID_PATTERN
from ..tenants.limit_spec import TenantLimits
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody

#: where the operator's routes live (beside ``API_PREFIX``, not under it: they are not media routes)
ADMIN_PREFIX = "/api/v1/admin"

router = APIRouter(prefix="/tenants", tags=["tenants (operator)"])
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES, 403: {"model": ErrorBody, "description": "needs an operator token"}}
_ONE = {**_RESPONSES, 404: {"model": ErrorBody, "description": "no such tenant"}}
_TENANT_ID = Path(min_length=1, max_length=63, description="the tenant's id")


class TenantEntry(BaseModel):
    id: str
    display_name: str
    #: ``active`` or ``suspended``
    status: str
    #: the tenant's limits (``TenantLimits``; ``null``: none bind)
    limits: dict[str, Any] | None
    created_at: str
    updated_at: str


class TenantList(BaseModel):
    tenants: list[TenantEntry]
    count: int


class TenantCreate(BaseModel):
    """``POST /admin/tenants``: a new, active tenant."""

    model_config = ConfigDict(extra="forbid")

    #: lower-case letters, digits and ``-`` (it becomes a storage prefix): refused otherwise
    id: str = Field(pattern=TENANT_ID_PATTERN)
    #: shown to people; the id when absent
    display_name: str | None = Field(default=None, max_length=200)


def _operator(caller: Caller) -> None:
    if not caller.operator:
        raise Forbidden("the tenant routes need an operator token (videoai token create --operator)")


@router.get("", response_model=TenantList, summary="List tenants (operator)", responses=_RESPONSES)
def list_tenants(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    rows = ctx.service.tenants.list()
    return JSONResponse({"tenants": rows, "count": len(rows)})


@router.post("", status_code=201, response_model=TenantEntry, summary="Create a tenant (operator)",
             responses={**_RESPONSES, 409: {"model": ErrorBody, "description": "the id is taken"}},
             openapi_extra=json_body_schema("TenantCreate"))
async def create_tenant(request: Request, caller: Caller = Depends(authorized),
                        ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """Body: `TenantCreate`. A bad id or display name is a 422 naming the field; nothing is stored."""
    _operator(caller)
    body = json_object(await json_body(request))
    row = await asyncio.to_thread(ctx.service.tenants.create, body)
    return JSONResponse(row, status_code=201, headers={"Location": f"{request.url.path}/{row['id']}"})


@router.get("/{tenant_id}", response_model=TenantEntry, summary="Get a tenant (operator)", responses=_ONE)
def get_tenant(tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
               ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    return JSONResponse(ctx.service.tenants.get(tenant_id))


@router.post("/{tenant_id}/suspend", response_model=TenantEntry, summary="Suspend a tenant (operator)",
             description="Its tokens answer 403 and its schedules skip their ticks until it is resumed; "
                         "its work already accepted finishes.", responses=_ONE)
def suspend_tenant(tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
                   ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    return JSONResponse(ctx.service.tenants.set_status(tenant_id, "suspended"))


@router.post("/{tenant_id}/resume", response_model=TenantEntry, summary="Resume a suspended tenant (operator)",
             responses=_ONE)
def resume_tenant(tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
                  ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    return JSONResponse(ctx.service.tenants.set_status(tenant_id, "active"))


_LIMITS_DOC = ("Body: `TenantLimits`. Each limit binds all of the tenant's users together, on top of their "
               "own; one left out or `null` does not bind. A negative, non-finite or unknown value is a 422 "
               "naming the field, and nothing is stored. Takes effect within `tenant_cache_seconds`.")


@router.put("/{tenant_id}/limits", response_model=TenantEntry, summary="Set a tenant's limits (operator)",
            description=_LIMITS_DOC + " Replaces every limit.", responses=_ONE,
            openapi_extra=json_body_schema(TenantLimits.__name__))
async def put_limits(request: Request, tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
                     ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    body = json_object(await json_body(request))
    return JSONResponse(await asyncio.to_thread(ctx.service.tenants.set_limits, tenant_id, body))


@router.patch("/{tenant_id}/limits", response_model=TenantEntry, summary="Change some of a tenant's limits "
              "(operator)", description=_LIMITS_DOC + " Changes only the limits named (`null` removes one).",
              responses=_ONE, openapi_extra=json_body_schema(TenantLimits.__name__))
async def patch_limits(request: Request, tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
                       ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    body = json_object(await json_body(request))
    return JSONResponse(await asyncio.to_thread(ctx.service.tenants.update_limits, tenant_id, body))
class TenantDeleted(BaseModel):
    tenant: str
    #: what was stopped first: ``{"tasks", "pipelines", "schedules"}``
    cancelled: dict[str, int]
    #: rows removed per table
    rows: dict[str, int]
    #: files removed under the tenant's prefix
    files: int


class TenantExported(BaseModel):
    tenant: str
    #: where it went, relative to the deployment's export folder: ``<tenant>/<UTC time>-<random>``
    export: str
    #: rows written per table (``tables/<table>.parquet``)
    tables: dict[str, int]
    #: files copied (``files/...``) and their bytes
    files: int
    bytes: int


@router.delete("/{tenant_id}", response_model=TenantDeleted, summary="Delete a tenant and everything it has (operator)",
               description="Cancels its work in flight first (schedules deleted, pipelines and tasks cancelled), then "
                           "removes its cache entries, files and every row. The tenant must be suspended (409 "
                           "`tenant_not_suspended`) unless `force=true`, which suspends it first.",
               responses={**_ONE, 409: {"model": ErrorBody, "description": "not suspended, or its work did not end"}})
async def delete_tenant(tenant_id: str = _TENANT_ID, force: bool = Query(False, description="suspend it first"),
                        caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    done = await asyncio.to_thread(ctx.service.tenant_lifecycle.delete, tenant_id, force=force)
    return JSONResponse(done)


@router.post("/{tenant_id}/export", response_model=TenantExported, summary="Export a tenant (operator)",
             description="Writes every row of the tenant (one Parquet file per table) and copies its files to a new "
                         "folder under the deployment's export folder (`VIDEOAI_TENANT_EXPORT_URL`); the request "
                         "names no location.", responses=_ONE)
async def export_tenant(tenant_id: str = _TENANT_ID, caller: Caller = Depends(authorized),
                        ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    _operator(caller)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    lifecycle = ctx.service.tenant_lifecycle
    tenant = ctx.service.tenants.get(tenant_id)["id"]  # 404 before anything is written
    target = f"{ctx.settings.tenant_export_root}/{tenant}/{name}"
    done = await asyncio.to_thread(lifecycle.export, tenant, target)
    return JSONResponse({**done, "export": f"{tenant}/{name}"})
