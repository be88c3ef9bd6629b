"""The hot routes served without FastAPI's per-request machinery.

Task creation (the four media ``POST``s) is what clients call most, and under load FastAPI's
routing, dependency solving and exception middleware cost more than the route's own work. A route
registered as a ``FastRoute`` keeps its ``APIRoute`` registration (the OpenAPI document, and the
fallback), and the ``FastRoutes`` middleware serves its exact method and path first: it calls the
endpoint with the request alone and maps errors through the app's own exception handlers.
Everything else goes to FastAPI.

Adding one: ``router.add_api_route(path, endpoint, route_class_override=FastRoute,
openapi_extra=documented([param, ...]))`` with ``async def endpoint(request) -> Response``; the
query and header values it reads are ``Param`` objects, which parse and document them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class Param:
    """A query or header value a route reads itself: ``parse`` turns the raw text (``None`` when
    absent) into the value or raises ``InvalidRequest`` naming it; the rest is its OpenAPI entry."""

    name: str
    location: str  # "query" or "header"
    schema: dict[str, Any]
    description: str
    parse: Callable[[str | None], Any]

    def read(self, request: Request) -> Any:
        raw = request.query_params.get(self.name) if self.location == "query" else request.headers.get(self.name)
        return self.parse(raw)

    def openapi(self) -> dict[str, Any]:
        return {"name": self.name, "in": self.location, "required": False, "schema": self.schema,
                "description": self.description}


def documented(params: Sequence[Param], openapi_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` listing ``params`` (for a route that reads them itself)."""
    return {**(openapi_extra or {}), "parameters": [p.openapi() for p in params]}


class FastRoute(APIRoute):
    """An ``APIRoute`` that ``FastRoutes`` serves directly: a fixed path, and an endpoint that
    takes only the request (``route_class_override=FastRoute``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.param_convertors:
            raise ValueError(f"a fast route has a fixed path, not {path}")


def fast_table(routers: Iterable[APIRouter], prefix: str = "") -> dict[tuple[str, str], APIRoute]:
    """The ``FastRoute``s of ``routers`` included under ``prefix``, by ``(method, full path)``."""
    return {(method, prefix + route.path): route for router in routers for route in router.routes
            if isinstance(route, FastRoute) for method in route.methods or ()}


class FastRoutes:
    """Serve ``routes`` (see ``fast_table``) directly; pass every other request to ``app`` (the
    rest of ``api``'s middleware stack). Errors go through ``api.exception_handlers``, read at the time
    of the error, so a handler added later applies here too."""

    def __init__(self, app: ASGIApp, api: FastAPI, routes: Mapping[tuple[str, str], APIRoute]) -> None:
        self.app = app
        self.api = api
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["method"], get_route_path(scope))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # as FastAPI's routing would (the rate limit reads its template)
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        """The app's handler for ``exc``: its class's, else the nearest base class's (as
        Starlette's exception middleware looks it up)."""
        handlers = self.api.exception_handlers
        return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
