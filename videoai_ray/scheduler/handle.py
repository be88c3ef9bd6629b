"""Finding or starting the named Scheduler actor."""

from __future__ import annotations

from typing import Any

import ray

from .. import actor_names
from ..actor_names import NAMESPACE
from ..providers.base import Provider
from ..settings import Settings


def scheduler_name(settings: Settings) -> str:
    return actor_names.scheduler_name(settings.instance)


def get_or_create_scheduler(settings: Settings, providers: list[Provider] | None = None) -> Any:
    """The deployment's Scheduler: detached, restarted by Ray whenever it dies, and its method
    calls retried across restarts (``submit`` is idempotent by task id, so that is safe)."""
    from .actor import Scheduler

    cls: Any = ray.remote(Scheduler)
    handle = cls.options(
        name=scheduler_name(settings),
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=-1,
        max_concurrency=10_000,
        num_cpus=0,
    ).remote(settings, providers)
    ray.get(handle.ready.remote())
    return handle


def kill_scheduler(settings: Settings) -> None:
    """Stop the deployment's Scheduler, its workers and its webhook dispatcher for good."""
    from ray.util import list_named_actors

    from ..webhooks.dispatcher import dispatcher_name

    exact = {scheduler_name(settings), actor_names.artifact_sink_name(settings.instance), dispatcher_name(settings)}
    for actor in list_named_actors(all_namespaces=True):
        name = actor["name"]
        if actor.get("namespace") == NAMESPACE and (
                name in exact or name.startswith(actor_names.worker_prefix(settings.instance))):
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
            except ValueError:
                continue
