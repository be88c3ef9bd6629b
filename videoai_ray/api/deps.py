"""FastAPI dependencies shared by the routes: the authenticated, rate-limited caller, and the
JSON body read as plain data (validation is the service's job, not FastAPI's)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.routing import get_route_path

from ..errors import InvalidRequest
from .auth import Caller
from .context import API_PREFIX, ApiContext
from .errors import ApiError
from .ratelimit import retry_after_header

#: the OpenAPI security scheme every route but ``/health`` requires (see ``app._openapi``)
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "JWT (HS256) from `videoai token create --user NAME`"}


async def authorized(request: Request) -> Caller:
    """The caller: a valid bearer token (401 otherwise) within its rate limit for this endpoint
    (429 with ``Retry-After`` otherwise). One dependency on the hot path, no sub-dependencies."""
    ctx: ApiContext = request.app.state.ctx
    caller = ctx.tokens.caller(request.headers.get("authorization"))
    endpoint = f"{request.method} {_route_template(request)}"
    limit = caller.rate_limit or ctx.settings.rate_limit_per_minute
    wait = await ctx.limiter.hit(f"{caller.user_id}:{endpoint}", limit)
    if wait is not None:
        raise ApiError(429, "rate_limited",
                       f"rate limit of {limit} requests per minute exceeded for {endpoint}; retry later",
                       headers={"Retry-After": retry_after_header(wait)})
    return caller


def _route_template(request: Request) -> str:
    """The matched route's template (``/api/v1/media/tasks/{task_id}``): one budget per endpoint,
    not per task id."""
    path = str(getattr(request.scope.get("route"), "path", "") or get_route_path(request.scope))
    return path if path.startswith(API_PREFIX) else API_PREFIX + path


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON (422 naming ``body`` when it is missing or not JSON)."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest("body: a JSON body is required", field="body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"body: not valid JSON ({e})", field="body") from None


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
