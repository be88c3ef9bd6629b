"""The hot routes served without FastAPI's per-request machinery.

Task creation (the four media ``POST``s) is what clients call most, and under load FastAPI's
routing, dependency solving and exception middleware cost more than the route's own work. This
ASGI middleware matches those exact method and path pairs first and calls the same endpoint
function FastAPI would (routes keep their ``APIRoute`` registration for the OpenAPI document and
as the fallback), mapping errors through the same handlers. Everything else goes to FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_for

Endpoint = Callable[[Request], Awaitable[Response]]


class FastRoutes:
    """Serve ``routes[(method, path)]`` directly; pass every other request to ``app``."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get((scope["method"], get_route_path(scope))) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await error_for(request, exc)
        await response(scope, receive, send)
