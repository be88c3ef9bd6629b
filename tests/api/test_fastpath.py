"""``FastRoutes``, the hot path of task creation, on its own: which requests it serves, that it
maps errors through the app's exception handlers (also one added later), and that the table of the
real app is built from its routers (in process, no Ray)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from videoai_ray.api import create_app, create_token
from videoai_ray.api.context import API_PREFIX, ApiContext
from videoai_ray.api.fastpath import FastRoute, FastRoutes, Param, documented, fast_table
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.api.submit_batcher import SubmitBatcher
from videoai_ray.errors import InvalidRequest
from videoai_ray.models import TaskType
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings


class Teapot(Exception):
    pass


def _count(raw: str | None) -> int:
    if raw is None:
        return 1
    if not raw.isdigit():
        raise InvalidRequest("count: must be a whole number", field="count")
    return int(raw)


COUNT = Param("count", "query", {"type": "integer", "minimum": 0}, "how many", _count)


async def fast_echo(request: Request) -> JSONResponse:
    if request.headers.get("x-raise") == "teapot":
        raise Teapot()
    if request.headers.get("x-raise") == "other":
        raise LookupError("nobody handles this")
    return JSONResponse({"count": COUNT.read(request), "route": request.scope["route"].path})


def _app() -> tuple[FastAPI, list[str]]:
    """An app with one fast route under ``/p`` and one ordinary route; ``passed`` records the
    paths that reached the middleware behind ``FastRoutes``."""
    router = APIRouter()
    router.add_api_route("/echo", fast_echo, methods=["POST"], route_class_override=FastRoute,
                         openapi_extra=documented([COUNT]))

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        return {"slow": "yes"}

    app = FastAPI()
    app.include_router(router, prefix="/p")
    passed: list[str] = []

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            passed.append(scope.get("path", ""))
            await self.app(scope, receive, send)

    app.add_middleware(Recorder)
    app.add_middleware(FastRoutes, api=app, routes=fast_table([router], "/p"))

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidRequest)
        return JSONResponse({"field": exc.field}, status_code=422)

    app.add_exception_handler(InvalidRequest, invalid)
    return app, passed


def _call(app: FastAPI, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return [await c.request(method, path, **kw) for method, path, kw in requests]

    return asyncio.run(run())


def test_the_table_holds_the_fast_routes_by_method_and_full_path() -> None:
    router = APIRouter()
    router.add_api_route("/x", fast_echo, methods=["POST", "PUT"], route_class_override=FastRoute)
    router.add_api_route("/y", fast_echo, methods=["POST"])  # an ordinary route: not in the table
    assert sorted(fast_table([router], "/api")) == [("POST", "/api/x"), ("PUT", "/api/x")]


def test_fast_routes_serve_their_path_and_pass_everything_else_on() -> None:
    app, passed = _app()
    fast, params, slow, missing, wrong_method = _call(
        app, ("POST", "/p/echo", {}), ("POST", "/p/echo?count=3", {}), ("GET", "/p/slow", {}),
        ("POST", "/p/nothing", {}), ("GET", "/p/echo", {}))
    assert fast.status_code == 200
    # the route template is in the scope, as FastAPI's routing puts it (rate limits read it)
    assert fast.json()["route"].endswith("/echo") and params.json()["count"] == 3
    assert slow.json() == {"slow": "yes"}
    assert missing.status_code == 404 and wrong_method.status_code == 405
    # only the requests FastRoutes did not serve went through the rest of the stack
    assert passed == ["/p/slow", "/p/nothing", "/p/echo"]


def test_errors_go_through_the_apps_handlers_even_one_added_later() -> None:
    app, _ = _app()
    [invalid] = _call(app, ("POST", "/p/echo?count=x", {}))
    assert invalid.status_code == 422 and invalid.json() == {"field": "count"}

    async def teapot(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"teapot": True}, status_code=418)

    app.add_exception_handler(Teapot, teapot)  # after the middleware stack exists
    [brewed] = _call(app, ("POST", "/p/echo", {"headers": {"x-raise": "teapot"}}))
    assert brewed.status_code == 418 and brewed.json() == {"teapot": True}
    # no handler (not even for ``Exception``): the error propagates, as in FastAPI's routing
    [unhandled] = _call(app, ("POST", "/p/echo", {"headers": {"x-raise": "other"}}))
    assert unhandled.status_code == 500


def test_a_fast_route_has_a_fixed_path() -> None:
    router = APIRouter()
    with pytest.raises(ValueError, match="fixed path"):
        router.add_api_route("/items/{item_id}", fast_echo, methods=["POST"], route_class_override=FastRoute)


def test_params_document_themselves_in_the_openapi_document() -> None:
    app, _ = _app()
    [op] = app.openapi()["paths"]["/p/echo"].values()
    assert op["parameters"] == [{"name": "count", "in": "query", "required": False,
                                 "schema": {"type": "integer", "minimum": 0}, "description": "how many"}]


@pytest.fixture
def media_app(tmp_path: Path) -> tuple[FastAPI, Settings]:
    settings = Settings(home=tmp_path, instance="t-fastpath")
    service = MediaService(settings, None)
    return create_app(ApiContext(settings, service, MemoryRateLimiter(), SubmitBatcher(service))), settings


def test_the_api_serves_the_four_media_posts_on_the_fast_path(media_app: tuple[FastAPI, Settings]) -> None:
    app, settings = media_app
    routes = {("POST", f"{API_PREFIX}/{p}") for p in
              ("images/generate", "videos/generate", "audio/transcribe", "subtitles/generate")}
    middleware = [m for m in app.user_middleware if m.cls is FastRoutes]
    assert len(middleware) == 1 and set(middleware[0].kwargs["routes"]) == routes
    assert {r.name for r in middleware[0].kwargs["routes"].values()} == {f"create_{t.value}" for t in TaskType}
    # and documents what they read themselves
    doc = app.openapi()["paths"][f"{API_PREFIX}/images/generate"]["post"]
    assert [p["name"] for p in doc["parameters"]] == ["wait", "Idempotency-Key"]
    # a bad query value is refused before anything is sent, in the API's error shape
    token = create_token(settings, "u")
    [r] = _call(app, ("POST", f"{API_PREFIX}/images/generate?wait=99",
                      {"json": {"prompt": "x"}, "headers": {"Authorization": f"Bearer {token}"}}))
    assert r.status_code == 422 and r.json()["error"]["field"] == "wait"
