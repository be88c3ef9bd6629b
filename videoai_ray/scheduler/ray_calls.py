"""``RayCalls``: every call the ``Dispatcher`` (and its ``PoolManager``) makes to Ray itself, in
one small object.

The Dispatcher decides what runs where (with its policies, ``policies.py``); this object does
the Ray part: start a worker actor, a model pool's actor or a CPU task, find, list and stop
actors, cancel a task. So a
test of dispatch gives the Dispatcher a stand-in and runs without a Ray cluster. (Calls on an
actor's own methods, ``handle.start.remote(...)``, go to the handle this object returned.)
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import ray

from ..actor_names import NAMESPACE, pool_member_name, worker_prefix
from ..attempts import Sink
from ..executor import ProviderWorker, run_cpu_attempt
from ..pools.actor import ModelActor
from ..protocol import Assignment
from ..providers.base import Provider
from ..providers.model import ModelProvider
from ..providers.resources import declares_resources, ray_options
from ..settings import Settings

log = logging.getLogger("videoai.scheduler")

_RemoteModelActor = ray.remote(max_restarts=0)(ModelActor)


class RayCalls:
    """Ray as the Dispatcher uses it."""

    def __init__(self) -> None:
        self._own: Any = None
        #: each CPU-bound provider object put once in Ray's object store (by name)
        self._provider_refs: dict[str, Any] = {}

    def own_handle(self) -> Any:
        """The Scheduler actor's own handle (executors report to it)."""
        if self._own is None:
            self._own = ray.get_runtime_context().current_actor
        return self._own

    def run_cpu(self, provider: Provider, a: Assignment, settings: Settings, sink: Sink) -> Any:
        """Start ``a`` as a Ray task with the provider's resources; its result's reference."""
        ref = self._provider_refs.get(provider.name)
        if ref is None:
            ref = self._provider_refs[provider.name] = ray.put(provider)
        return run_cpu_attempt.options(name=f"{provider.name}:{a.task_id}", **ray_options(provider)).remote(
            ref, a, settings, self.own_handle(), sink)

    def start_worker(self, provider: Provider, settings: Settings, sink: Sink) -> Any:
        """A new detached ``ProviderWorker`` for ``provider``; its handle."""
        return ProviderWorker.options(  # type: ignore[attr-defined]
            name=f"{worker_prefix(settings.instance, provider.name)}{uuid.uuid4().hex[:8]}",
            namespace=NAMESPACE, lifetime="detached",
            max_concurrency=max(100, provider.max_concurrency * 2),
            **(ray_options(provider, num_cpus=0) if declares_resources(provider) else {}),
        ).remote(provider, settings, self.own_handle(), sink)

    def start_pool_member(self, provider: ModelProvider, settings: Settings, sink: Sink, member_id: str) -> Any:
        """A new ``ModelActor`` of ``provider``'s pool (not detached: it ends with the Scheduler);
        its handle."""
        return _RemoteModelActor.options(
            name=pool_member_name(settings.instance, provider.name, member_id), namespace=NAMESPACE,
            max_concurrency=1000, scheduling_strategy="SPREAD", **ray_options(provider),
        ).remote(provider, settings, self.own_handle(), sink, member_id)

    def forget_provider(self, name: str) -> None:
        """The provider was unregistered or replaced: the next CPU task puts the new object."""
        self._provider_refs.pop(name, None)

    def named_actors(self, prefix: str) -> list[str]:
        """The names of the instance namespace's actors that start with ``prefix``."""
        from ray.util import list_named_actors

        return [a["name"] for a in list_named_actors(all_namespaces=True)
                if a.get("namespace") == NAMESPACE and a["name"].startswith(prefix)]

    def get_actor(self, name: str) -> Any | None:
        """The actor named ``name``, or ``None`` when it is gone."""
        try:
            return ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return None

    def kill(self, handle: Any, *, quiet: bool = False) -> None:
        """Stop an actor for good (``ray.kill`` does not restart it); ``quiet``: it may be gone
        already."""
        with contextlib.suppress(Exception) if quiet else contextlib.nullcontext():
            ray.kill(handle)

    def cancel(self, ref: Any) -> None:
        """Interrupt a CPU task (it may have ended already)."""
        try:
            ray.cancel(ref)
        except Exception:
            log.debug("ray.cancel failed (task already done)", exc_info=True)


__all__ = ["RayCalls"]
