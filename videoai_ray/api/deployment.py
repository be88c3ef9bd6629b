"""The HTTP API as a Ray Serve ingress deployment.

Each replica finds (or starts) the deployment's Scheduler, opens the store, and builds the FastAPI
app around them (``__serve_build_asgi_app__``: the app is made in the replica, not pickled from
the driver, so it holds live handles). ``build_application`` is what ``run_server``,
``serve run serve.app:app`` and ``serve deploy serve/config.yaml`` deploy.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from ..placement import on_head
from ..settings import Settings
from .app import create_app
from .context import ApiContext

#: the Serve deployment's name (and the default application's, see ``run_server``)
DEPLOYMENT_NAME = "videoai-api"
#: a replica's Ray options: no CPU of its own, on the head node (as ``serve/config.yaml`` says too)
REPLICA_OPTIONS: dict[str, Any] = {"num_cpus": 0, "resources": on_head()}


def pinned(settings: Settings) -> Settings:
    """``settings`` with an absolute data folder (``Settings.pinned``): a replica's working
    directory is not the caller's."""
    return settings.pinned()


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
    CPU is better left to providers' Ray tasks. They run on the head node, with the rest of the
    control plane (``placement``): with HAProxy's direct ingress they are the ingress.
    """
    deployment = serve.deployment(
        name=DEPLOYMENT_NAME, num_replicas=num_replicas, max_ongoing_requests=max_ongoing_requests,
        ray_actor_options=ray_actor_options if ray_actor_options is not None else REPLICA_OPTIONS,
    )(VideoAIIngress)
    return deployment.bind(pinned(settings))
