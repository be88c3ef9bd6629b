"""The HTTP API as a Ray Serve ingress deployment.

Each replica finds (or starts) the deployment's Scheduler, opens the store, and builds the FastAPI
app around them (``__serve_build_asgi_app__``: the app is made in the replica, not pickled from
the driver, so it holds live handles). ``build_application`` is what ``run_server``,
``serve run serve.app:app`` and ``serve deploy serve/config.yaml`` deploy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from ..settings import Settings
from .app import create_app
from .context import ApiContext

#: the Serve deployment's name (and the default application's, see ``run_server``)
DEPLOYMENT_NAME = "videoai-api"


def pinned(settings: Settings) -> Settings:
    """``settings`` with an absolute data folder: a replica's working directory is not the
    caller's, and a relative ``home`` would point every process at a different database."""
    home = Path(settings.home).expanduser().resolve()
    if home == settings.home:
        return settings
    copy = settings.model_copy(update={"home": home})
    for cached in ("db_url", "artifacts_root"):  # cached_property values copied from the original
        copy.__dict__.pop(cached, None)
    return copy


@serve.ingress()
class VideoAIIngress:
    """One replica of the HTTP API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __serve_build_asgi_app__(self) -> FastAPI:
        # finding the Scheduler waits on Ray: keep it off the replica's event loop
        ctx = await asyncio.to_thread(ApiContext.start, self.settings)
        return create_app(ctx)


def build_application(settings: Settings, *, num_replicas: int = 1, max_ongoing_requests: int = 1000,
                      ray_actor_options: dict[str, Any] | None = None) -> Application:
    """The Serve application: ``num_replicas`` replicas of the API for ``settings``'s deployment.

    Replicas reserve no CPU by default: they mostly wait on the Scheduler and the store, and the
    CPU is better left to providers' Ray tasks.
    """
    deployment = serve.deployment(
        name=DEPLOYMENT_NAME, num_replicas=num_replicas, max_ongoing_requests=max_ongoing_requests,
        ray_actor_options=ray_actor_options if ray_actor_options is not None else {"num_cpus": 0},
    )(VideoAIIngress)
    return deployment.bind(pinned(settings))
