"""Finding or starting the named Scheduler actor."""

from __future__ import annotations

import logging
from typing import Any

import ray

from .. import actor_names
from ..actor_names import NAMESPACE
from ..providers.base import Provider
from ..settings import Settings

log = logging.getLogger("videoai.scheduler")


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
    # a start reaches the store first (and may bring its schema up to date); during an outage the
    # Scheduler runs degraded after that long, and says so
    ready = ray.get(handle.ready.remote(settings.store_connect_timeout + settings.store_statement_timeout))
    if ready.get("degraded"):
        log.warning("the Scheduler runs degraded (store: %s); it keeps trying and recovers its tasks when the "
                    "store answers; submissions are refused with StoreUnavailable until then", ready.get("store"))
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
