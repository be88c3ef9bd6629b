"""One error shape for every non-2xx answer of the HTTP API.

``{"error": {"code": ..., "message": ..., "field": ..., "errors": [...]}}``: the package's own
errors (``VideoAIError``) keep their stable ``code``; FastAPI's request validation, unknown routes
and the HTTP-only failures (auth, rate limit, size) are mapped onto the same body. Anything else
is logged with its trace and answered as a bare ``internal_error`` (never a stack trace).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path, get_route_path

from ..errors import (
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    QuotaExceeded,
    StoreUnavailable,
    TaskNotFound,
    VideoAIError,
)
from ..outage_errors import store_error

log = logging.getLogger("videoai.api")

#: HTTP status per package error class (looked up along the class's MRO; default 400)
STATUS_FOR: dict[type[VideoAIError], int] = {
    InvalidRequest: 422,
    IdempotencyConflict: 409,
    TaskNotFound: 404,
    InvalidTransition: 409,
    Forbidden: 403,
    QuotaExceeded: 409,
    StoreUnavailable: 503,  # DiskFull too: the request may succeed later, see ``Retry-After``
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence, and the offending field when there is one."""

    code: str
    message: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


class ApiError(VideoAIError):
    """An HTTP-level failure (auth, rate limit, size, missing resource) with its status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.headers = dict(headers or {})


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what}_not_found", f"no {what} {ident}")


def error_response(status: int, code: str, message: str, field: str | None = None,
                   errors: Sequence[Mapping[str, Any]] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message, "field": field}
    if errors:
        detail["errors"] = [dict(e) for e in errors]
    return JSONResponse({"error": detail}, status_code=status, headers=dict(headers or {}))


def _status_for(exc: VideoAIError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]
    return 400


async def _videoai_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VideoAIError)
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.field, headers=exc.headers)
    errors = exc.details.get("errors")
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, StoreUnavailable) else None
    return error_response(_status_for(exc), exc.code, exc.message, getattr(exc, "field", None), errors, headers)


def _loc_field(loc: Sequence[Any]) -> str:
    """``("query", "limit")`` → ``limit``; ``("body", 3, "task_type")`` → ``[3].task_type``."""
    parts = list(loc[1:] if loc and loc[0] in ("query", "path", "header", "body", "cookie") else loc)
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = [{"field": _loc_field(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
    first = errs[0] if errs else {"field": "body", "message": "invalid request"}
    return error_response(422, InvalidRequest.code, f"{first['field']}: {first['message']}", first["field"], errs)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
               413: "request_too_large", 429: "rate_limited"}


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error" if exc.status_code < 500 else "internal_error")
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        message = f"{request.method} is not allowed on this path; it allows {headers['Allow'] or 'nothing'}"
    return error_response(exc.status_code, code, message, headers=headers)


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed(request: Request) -> str | None:
    """Every method the published document gives the request's path (``None``: a path it does not
    list). The router's own 405 names only the methods of the first route on the path: ``GET`` for
    ``/budget``, whose ``PUT`` is another route."""
    app = request.app
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(compile_path(path)[0], {m.upper() for m in ops if m in _HTTP_METHODS})
                 for path, ops in app.openapi()["paths"].items()]
        app.state.allow_table = table
    path = get_route_path(request.scope)
    methods = set().union(*(ms for regex, ms in table if regex.match(path)))
    return ", ".join(sorted(methods)) or None


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    outage = store_error(exc)
    if outage is not None:  # a read that met a store outage: 503 and Retry-After, not a 500
        log.warning("%s %s: %s", request.method, request.url.path, outage.message)
        return await _videoai_error(request, outage)
    # The trace goes to the log, never to the client.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through :func:`error_response`."""
    app.add_exception_handler(VideoAIError, _videoai_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unhandled)


#: OpenAPI ``responses=`` entries for the error statuses most routes share
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, invalid or expired bearer token"},
    422: {"model": ErrorBody, "description": "validation failed; ``field`` names the input"},
    429: {"model": ErrorBody, "description": "rate limit exceeded; see ``Retry-After``"},
    503: {"model": ErrorBody, "description": "the task store is out (``store_unavailable``, ``disk_full``); "
                                             "see ``Retry-After``"},
}
