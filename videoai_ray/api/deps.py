"""FastAPI dependencies shared by the routes: the authenticated, rate-limited caller, and the
JSON body read as plain data (validation is the service's job, not FastAPI's)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Request

from ..errors import InvalidRequest
from ..tenants.directory import MISSING
from .auth import CHALLENGE, Caller
from .context import API_PREFIX, ApiContext
from .errors import ApiError
from .ratelimit import retry_after_header

#: the OpenAPI security scheme every route but ``/health`` requires (see ``app._openapi``)
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "JWT (HS256) from `videoai token create --user NAME`"}


async def authorized(request: Request) -> Caller:
    """The caller: a valid bearer token (401 otherwise) of an existing tenant (401) that is not
    suspended (403), within its rate limit for this endpoint and its tenant's ``rpm`` (429 with
    ``Retry-After`` otherwise). One dependency on the hot path, no sub-dependencies."""
    ctx: ApiContext = request.app.state.ctx
    limits: dict[str, Any] = {}
    try:
        caller = ctx.tokens.caller(request.headers.get("authorization"))
        if caller.tenant is not None:
            limits = await _tenant_admitted(ctx, caller.tenant)
    except ApiError:
        await _count_auth_failure(ctx, request)
        raise
    endpoint = f"{request.method} {_route_template(request)}"
    limit = caller.rate_limit or ctx.settings.rate_limit_per_minute
    wait = await ctx.limiter.hit(f"{caller.user_id}:{endpoint}", limit)
    if wait is not None:
        raise ApiError(429, "rate_limited",
                       f"rate limit of {limit} requests per minute exceeded for {endpoint}; retry later",
                       headers={"Retry-After": retry_after_header(wait)})
    if caller.tenant is not None and limits.get("rpm") is not None:
        await _tenant_rate(ctx, caller.tenant, int(limits["rpm"]))
    return caller


async def _tenant_rate(ctx: ApiContext, tenant: str, rpm: int) -> None:
    """A tenant's ``rpm`` limit: every request of all of its users, over every route, counts
    towards it (429 with ``Retry-After`` past it)."""
    wait = await ctx.limiter.hit(f"tenant:{tenant}", rpm)
    if wait is not None:
        raise ApiError(429, "rate_limited",
                       f"tenant {tenant}'s rate limit of {rpm} requests per minute (all of its users together) "
                       "exceeded; retry later", field="tenant", headers={"Retry-After": retry_after_header(wait)})


async def _tenant_admitted(ctx: ApiContext, tenant: str) -> dict[str, Any]:
    """401 for a tenant the store does not know, 403 for a suspended one, else its limits; the
    state and limits are the directory's (fresh within ``tenant_cache_seconds``), read off the
    event loop on a miss."""
    directory = ctx.service.tenants.directory
    state = directory.cached(tenant)
    if state is MISSING:
        state = await asyncio.to_thread(directory.load, tenant)
    if state is None:
        raise ApiError(401, "unknown_tenant", f"the token's tenant {tenant} does not exist", field="tenant",
                       headers=CHALLENGE)
    if state != "active":
        raise ApiError(403, "tenant_suspended", f"tenant {tenant} is suspended", field="tenant")
    limits = directory.cached_limits(tenant)
    if limits is MISSING:  # expired since the state was read: read both again
        limits = await asyncio.to_thread(directory.limits, tenant)
    return limits  # type: ignore[return-value]


async def _count_auth_failure(ctx: ApiContext, request: Request) -> None:
    """Requests without a valid token count per client address; past the limit they answer 429
    (so guessing tokens from one address is slow), while valid tokens from it keep working."""
    client = request.client.host if request.client else "unknown"
    limit = ctx.settings.auth_failures_per_minute
    wait = await ctx.limiter.hit(f"auth-failures:{client}", limit)
    if wait is not None:
        raise ApiError(429, "rate_limited",
                       f"more than {limit} requests per minute without a valid token from this address; retry later",
                       headers={"Retry-After": retry_after_header(wait)})


def _route_template(request: Request) -> str:
    """The matched route's template (``/api/v1/media/tasks/{task_id}``): one budget per endpoint,
    not per task id. FastAPI's routing and ``FastRoutes`` both set ``scope["route"]``; newer
    FastAPI versions give the route as declared on its router, without the include prefix."""
    path = str(request.scope["route"].path)
    return path if path.startswith("/api/") else API_PREFIX + path


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON (422 naming ``body`` when it is missing, not JSON, holds
    ``NaN``/``Infinity``, or nests deeper than ``max_json_depth``)."""
    ctx: ApiContext = request.app.state.ctx
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest("body: a JSON body is required", field="body")
    limit = ctx.settings.max_json_depth
    # checked on the raw text first: the parser itself recurses, and would fail deep inside
    if raw.count(b"[") + raw.count(b"{") > limit and _raw_depth(raw) > limit:
        raise InvalidRequest(f"body: nests deeper than {limit} levels", field="body")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidRequest(f"body: not valid JSON ({str(e)[:200]})", field="body") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _raw_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest("body: must be a JSON object", field="body")
    return value


def json_body_schema(ref: str, *, array: bool = False, max_items: int | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body that the route reads itself."""
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{ref}"}
    if array:
        schema = {"type": "array", "items": schema, "minItems": 1}
        if max_items is not None:
            schema["maxItems"] = max_items
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
