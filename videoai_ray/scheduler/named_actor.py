"""Finding or starting the named Scheduler actor, and the store it writes.

Every entry point (the SDK, the CLI, ``videoai serve``, a Serve replica) opens the store of the
running Scheduler, which it asks for (``join_store``): the Scheduler's settings win over this
process's, so a notebook in another folder, or a Serve config with another ``VIDEOAI_HOME``, does
not open an empty database of its own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ray

from .. import actor_names
from ..actor_names import NAMESPACE
from ..errors import StoreMismatch
from ..placement import on_head
from ..providers.base import Provider
from ..settings import Settings

log = logging.getLogger("videoai.scheduler")


def scheduler_name(settings: Settings) -> str:
    return actor_names.scheduler_name(settings.instance)


def store_location(settings: Settings) -> dict[str, Any]:
    """Where ``settings`` put the data, as absolute URLs (what ``Scheduler.store_location`` answers)."""
    return {"db_url": settings.db_url, "artifacts_root": settings.artifacts_root,
            "artifacts_shared": settings.artifacts_shared, "home": str(Path(settings.home).expanduser().resolve()),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            # the deployment decides which input roots each user is granted (``inputs.py``), and
            # how its buckets are opened: every entry point checks and reads with the same
            "input_roots": settings.input_roots, "input_roots_by_user": settings.input_roots_by_user,
            "input_roots_http_by_user": settings.input_roots_http_by_user,
            "input_roots_by_tenant": settings.input_roots_by_tenant,
            "input_roots_http_by_tenant": settings.input_roots_http_by_tenant,
            "storage_options": settings.storage_options}


def find_scheduler(settings: Settings) -> Any | None:
    """The running Scheduler of ``settings.instance``, or ``None``."""
    try:
        return ray.get_actor(scheduler_name(settings), namespace=NAMESPACE)
    except ValueError:
        return None


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def join_store(settings: Settings, location: dict[str, Any], *, strict: bool = False) -> Settings:
    """``settings`` with the store of a running Scheduler (``location``: its ``store_location``).

    A process that named another database itself (``DATABASE_URL``) is told so: a warning, or with
    ``strict`` (a Serve replica, whose configuration an operator wrote) ``StoreMismatch``."""
    mine = settings.db_url
    if mine != location["db_url"] and settings.database_url:
        message = (f"the running Scheduler (instance {settings.instance!r}) writes the store "
                   f"{_redacted(location['db_url'])}, but this process is configured with {_redacted(mine)}: "
                   "unset DATABASE_URL here (the Scheduler's store is used), or stop that Scheduler "
                   "(`videoai_ray.scheduler.kill_scheduler`) to start one on this store")
        if strict:
            raise StoreMismatch(message)
        log.warning("%s; using the Scheduler's store", message)
    elif mine != location["db_url"]:
        log.info("using the running Scheduler's store %s (not %s)", _redacted(location["db_url"]), _redacted(mine))
    grants: dict[str, Any] = {k: location[k] for k in ("input_roots", "input_roots_by_tenant",
                                                       "input_roots_http_by_tenant", "input_roots_by_user",
                                                       "input_roots_http_by_user")
                              if k in location}  # a Scheduler of an older version answers without them
    if not settings.storage_options and location.get("storage_options"):
        grants["storage_options"] = location["storage_options"]
    return settings.replaced(home=Path(location["home"]), database_url=location["db_url"],
                             artifacts_url=location["artifacts_root"], artifacts_shared=location["artifacts_shared"],
                             **grants)


def deployment_settings(settings: Settings, *, strict: bool = False) -> Settings:
    """``settings`` with the running Scheduler's store when one runs (see ``join_store``), else
    with an absolute data folder (``Settings.pinned``) for the Scheduler this process starts."""
    running = find_scheduler(settings)
    if running is None:
        return settings.pinned()
    return join_store(settings, ray.get(running.store_location.remote()), strict=strict)


def get_or_create_scheduler(settings: Settings, providers: list[Provider] | None = None) -> Any:
    """The deployment's Scheduler: detached, on the head node, restarted by Ray whenever it dies,
    and its method calls retried across restarts (``submit`` is idempotent by task id, so that is
    safe)."""
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
        resources=on_head(),
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
