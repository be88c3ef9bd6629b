"""What every route needs, built once per process (a Serve replica, or a test's app)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..artifacts import API_PREFIX, ArtifactStore
from ..errors import StoreNotReady
from ..service import MediaService
from ..settings import Settings
from .auth import TokenCache
from .ratelimit import RequestRateLimiter, make_limiter
from .submit_batcher import SubmitBatcher

__all__ = ["API_PREFIX", "ApiContext", "get_context"]


@dataclass
class ApiContext:
    """The core (``MediaService``) plus the HTTP layer's own state."""

    settings: Settings
    service: MediaService
    limiter: RequestRateLimiter
    batcher: SubmitBatcher
    artifacts: ArtifactStore = field(init=False)
    tokens: TokenCache = field(init=False)

    def __post_init__(self) -> None:
        self.artifacts = ArtifactStore.of(self.settings)
        self.tokens = TokenCache(self.settings)

    @classmethod
    def start(cls, settings: Settings, scheduler: Any = None, limiter: RequestRateLimiter | None = None) -> ApiContext:
        """Find (or start) the deployment's Scheduler and open its store. A store that names
        another database than the running Scheduler's (``StoreMismatch``), or that holds no
        schema or an older one (``StoreNotReady``), stops this replica with the reason."""
        if scheduler is None:
            from ..scheduler import deployment_settings, get_or_create_scheduler

            settings = deployment_settings(settings, strict=True)
            scheduler = get_or_create_scheduler(settings)
        service = MediaService(settings, scheduler)
        problem = service.monitor.store_problem()
        if problem is not None:
            service.close()
            raise StoreNotReady(f"this API replica cannot serve: {problem}")
        return cls(settings, service, limiter or make_limiter(settings), SubmitBatcher(service))

    async def close(self) -> None:
        await self.limiter.close()
        self.service.close()


async def get_context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context (``async`` so FastAPI calls it inline, not in a thread)."""
    ctx: ApiContext = request.app.state.ctx
    return ctx
