"""A tenant's own cloud provider keys, under ``/api/v1/media/tenant/provider-keys``: for the
tenant admin of that tenant only (403 for anyone else, the deployment's admin and operator
included: a key is the tenant's business). Keys go in, never out: the answers say which
providers have a key and since when (docs/tenants.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..errors import Forbidden
from ..tenants.keys import MAX_KEY_LENGTH
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody, not_found

router = APIRouter(prefix="/tenant/provider-keys", tags=["tenant provider keys"])
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES, 403: {"model": ErrorBody, "description": "needs a tenant admin token of this tenant"}}
_PROVIDER = Path(min_length=1, max_length=32, description="openai, assemblyai, stability, runwayml or fal")
_TENANT = Query(default=None, max_length=63, description="the caller's own tenant (the only one allowed)")


class ProviderKeyBody(BaseModel):
    """``PUT .../provider-keys/{provider}``: the tenant's key for that provider's account."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)


class ProviderKeyEntry(BaseModel):
    provider: str
    created_at: str
    updated_at: str


class ProviderKeyList(BaseModel):
    tenant: str
    #: whether the tenant's tasks use the deployment's key where it has none (``tenant_keys_fallback``)
    fallback: bool
    provider_keys: list[ProviderKeyEntry]


def _tenant_admin(caller: Caller, tenant: str | None) -> str:
    """The caller's tenant, when the caller is its tenant admin and names no other tenant."""
    if caller.tenant is None or not caller.tenant_admin:
        raise Forbidden("a tenant's provider keys are set by its tenant admin (videoai token create --tenant-admin)",
                        field="tenant")
    if tenant is not None and tenant != caller.tenant:
        raise Forbidden("a tenant admin sets only its own tenant's keys", field="tenant")
    return caller.tenant


@router.get("", response_model=ProviderKeyList, summary="Which providers have a key of this tenant",
            responses=_RESPONSES)
def list_provider_keys(tenant: str | None = _TENANT, caller: Caller = Depends(authorized),
                       ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    return JSONResponse(ctx.service.provider_keys.list(_tenant_admin(caller, tenant)))


@router.put("/{provider}", response_model=ProviderKeyEntry, summary="Set this tenant's key for a provider",
            description="Stored encrypted under the deployment's VIDEOAI_SECRETS_KEY (409 `no_secrets_key` "
                        "without one); never returned.",
            responses={**_RESPONSES, 409: {"model": ErrorBody, "description": "the deployment has no secrets key"}},
            openapi_extra=json_body_schema("ProviderKeyBody"))
async def put_provider_key(request: Request, provider: str = _PROVIDER, tenant: str | None = _TENANT,
                           caller: Caller = Depends(authorized),
                           ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    own = _tenant_admin(caller, tenant)
    body = json_object(await json_body(request))
    entry = await asyncio.to_thread(ctx.service.provider_keys.set, own, provider, body)
    return JSONResponse(entry)


@router.delete("/{provider}", status_code=204, summary="Remove this tenant's key for a provider",
               responses={**_RESPONSES, 404: {"model": ErrorBody, "description": "no key for this provider"}})
def delete_provider_key(provider: str = _PROVIDER, tenant: str | None = _TENANT, caller: Caller = Depends(authorized),
                        ctx: ApiContext = Depends(get_context)) -> Response:
    own = _tenant_admin(caller, tenant)
    if not ctx.service.provider_keys.delete(own, provider):
        raise not_found("provider_key", provider)
    return Response(status_code=204)
