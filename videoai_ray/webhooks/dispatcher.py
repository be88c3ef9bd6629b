"""The webhook dispatcher: one named, detached, self-restarting async Ray actor per cluster.

It owns one :class:`~videoai_ray.webhooks.delivery.DeliveryWorker` (one shared
``httpx.AsyncClient``) that starts working as soon as the actor starts, so after a restart of the
actor or of the whole application it resumes from the pending rows without being asked.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import ray
from ray.actor import ActorHandle

from ..actor_names import NAMESPACE, webhook_dispatcher_name
from ..placement import on_head
from ..settings import Settings
from ..store import StoreTimeouts, make_engine
from .delivery import DeliveryWorker


@ray.remote(num_cpus=0, max_restarts=-1)
class WebhookDispatcher:
    """Ray actor around a :class:`DeliveryWorker` reading ``settings.db_url``."""

    def __init__(self, settings: Settings, concurrency: int = 32, poll_interval: float = 5.0) -> None:
        from .. import metrics
        from ..logs import configure_logging

        configure_logging(settings)
        metrics.set_instance(settings.instance)
        self._engine = make_engine(settings.db_url, StoreTimeouts.of(settings))
        self._worker = DeliveryWorker(settings, self._engine, concurrency=concurrency,
                                      poll_interval=poll_interval)
        # Async actors construct inside their event loop: start delivering right away.
        self._loop_task = asyncio.get_running_loop().create_task(self._worker.run())

    async def wake(self) -> None:
        """New rows were written (or a redelivery was asked for): look for due deliveries now."""
        self._worker.wake()

    async def status(self) -> dict[str, Any]:
        """Liveness and load, for health checks."""
        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "running": not self._loop_task.done(),
            "inflight": self._worker.inflight,
            "attempts_recorded": self._worker.sent,
        }


def dispatcher_name(settings: Settings) -> str:
    """``videoai-webhooks`` for the default instance, ``videoai-webhooks-<instance>`` otherwise."""
    return webhook_dispatcher_name(settings.instance)


def get_or_create_dispatcher(
    settings: Settings,
    *,
    concurrency: int = 32,
    poll_interval: float = 5.0,
) -> ActorHandle:
    """The instance's dispatcher actor, started if it is not running (needs ``ray.init`` first).

    The first caller's ``settings`` (database, timeouts, retry schedule) are the ones it keeps:
    one dispatcher serves one database, so deployments (and tests) sharing a Ray cluster use
    different ``settings.instance`` values.
    """
    return WebhookDispatcher.options(  # type: ignore[attr-defined]
        name=dispatcher_name(settings),
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        num_cpus=0,
        resources=on_head(),  # the control plane stays on the node the autoscaler never removes
    ).remote(settings, concurrency, poll_interval)


def wake_dispatcher(settings: Settings) -> bool:
    """Wake the instance's dispatcher if it runs (fire and forget); ``False`` when there is none."""
    try:
        handle = ray.get_actor(dispatcher_name(settings), namespace=NAMESPACE)
    except ValueError:
        return False
    handle.wake.remote()
    return True


__all__ = [
    "NAMESPACE",
    "WebhookDispatcher",
    "dispatcher_name",
    "get_or_create_dispatcher",
    "wake_dispatcher",
]
