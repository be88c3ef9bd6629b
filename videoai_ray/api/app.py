"""The FastAPI application: every route under ``/api/v1/media``, one error shape, the size limit,
and an OpenAPI document whose request bodies are the VideoAI API contract's pydantic models.

``create_app(ctx)`` builds it around an ``ApiContext``; the Serve deployment does that inside each
replica, and tests can do it in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from .. import __version__
from ..experiments.models import ExperimentSpec
from ..models import REQUEST_MODELS, BatchItem
from ..pipelines.spec import PipelineSpec
from ..schedules import ScheduleRequest
from .body_limit import BodySizeLimit
from .context import API_PREFIX, ApiContext
from .deps import BEARER_SCHEME
from .errors import ErrorBody, install_error_handlers
from .fastpath import FastRoutes, fast_table
from .routes_batches import BudgetBody
from .routes_batches import router as batches_router
from .routes_experiments import router as experiments_router
from .routes_models import ModelRegistration
from .routes_models import router as models_router
from .routes_pipelines import router as pipelines_router
from .routes_schedules import router as schedules_router
from .routes_submit import router as submit_router
from .routes_system import router as system_router
from .routes_tasks import router as tasks_router
from .routes_tenant_keys import ProviderKeyBody
from .routes_tenant_keys import router as tenant_keys_router
from .routes_tenant_webhooks import router as tenant_webhooks_router
from .routes_tenants import ADMIN_PREFIX, TenantCreate, TenantLimits
from .routes_tenants import router as tenants_router
from .routes_webhooks import router as webhooks_router

DESCRIPTION = """\
Media tasks (images, videos, transcriptions, subtitles) for AI providers, run on Ray.

* Authenticate with `Authorization: Bearer <JWT>` (`videoai token create --user NAME`);
  `GET /health` needs no token.
* Creating a task answers `202` with the task and its `links`; follow `links.self`, or pass
  `?wait=N` to get the finished task (`200`) when it ends within N seconds.
* Every error has one shape: `{"error": {"code", "message", "field", "errors"}}`.
"""

#: every router of the API, each included under ``API_PREFIX`` (a new feature adds its router here)
ROUTERS = (submit_router, tasks_router, batches_router, pipelines_router, system_router, webhooks_router,
           experiments_router, schedules_router, models_router, tenant_keys_router, tenant_webhooks_router)
#: the operator's routers, under ``ADMIN_PREFIX``
ADMIN_ROUTERS = (tenants_router,)

#: schemas referenced by routes that read their body themselves
_BODY_MODELS: list[type[BaseModel]] = [*REQUEST_MODELS.values(), BatchItem, PipelineSpec, ExperimentSpec,
                                        ScheduleRequest, BudgetBody, ErrorBody, ModelRegistration, TenantCreate,
                                        ProviderKeyBody, TenantLimits]


def create_app(ctx: ApiContext) -> FastAPI:
    """The HTTP API around ``ctx``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await ctx.close()

    app = FastAPI(title="videoai-ray media tasks", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs", openapi_url="/openapi.json")
    app.state.ctx = ctx
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ADMIN_ROUTERS:
        app.include_router(router, prefix=ADMIN_PREFIX)
    # inside the size limit: added first
    app.add_middleware(FastRoutes, api=app, routes=fast_table(ROUTERS, API_PREFIX))
    app.add_middleware(BodySizeLimit, max_bytes=ctx.settings.max_request_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the request models the routes only reference."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {"bearer": BEARER_SCHEME}
    for path, operations in schema["paths"].items():
        if path != f"{API_PREFIX}/health":
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
    components = schema["components"].setdefault("schemas", {})
    for model in _BODY_MODELS:
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in model_schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema
