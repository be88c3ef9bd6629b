"""Finding and killing the actors of an instance in fault tests (its Scheduler, its workers, their
processes), and waiting for what follows."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import psutil
import ray

from videoai_ray.scheduler import NAMESPACE, scheduler_name
from videoai_ray.settings import Settings


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached in {timeout} s")


def worker_names(instance: str, provider: str) -> list[str]:
    from ray.util import list_named_actors

    return [a["name"] for a in list_named_actors(all_namespaces=True)
            if a["name"].startswith(f"videoai-worker-{instance}-{provider}-")]


def worker_of(instance: str, provider: str) -> Any:
    names = worker_names(instance, provider)
    assert len(names) == 1, names
    return ray.get_actor(names[0], namespace=NAMESPACE)


def pid_of(handle: Any) -> int:
    return int(ray.get(handle.__ray_call__.remote(lambda _self: os.getpid()), timeout=30))


def wait_dead(pid: int) -> None:
    """``ray.kill`` returns before the actor is gone, and Ray calls it dead before its process has
    exited: wait until the process is gone (so a held attempt cannot go on and report once the
    test lets it go; a loaded machine can leave a killed process running for a while)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                time.sleep(0.05)
                continue
        return
    raise AssertionError(f"process {pid} did not die")


def kill_scheduler_for_good(settings: Settings) -> None:
    """``ray.kill(no_restart=True)`` of the instance's Scheduler (Ray does not restart it; a new
    ``connect()`` starts another actor under its name), and wait until its process is gone."""
    handle = ray.get_actor(scheduler_name(settings), namespace=NAMESPACE)
    pid = int(ray.get(handle.ready.remote(), timeout=60)["pid"])
    ray.kill(handle, no_restart=True)
    wait_dead(pid)


def _replaced(handle: Any, before: int) -> bool:
    try:
        return bool(ray.get(handle.ready.remote(), timeout=10)["pid"] != before)
    except ray.exceptions.GetTimeoutError:
        return False  # still starting (slow on a loaded machine)


def restart_scheduler(settings: Settings) -> None:
    """Kill the instance's Scheduler and let Ray restart it (it recovers from the store); return
    once the new incarnation answers."""
    handle = ray.get_actor(scheduler_name(settings), namespace=NAMESPACE)
    before = int(ray.get(handle.ready.remote(), timeout=60)["pid"])
    ray.kill(handle, no_restart=False)
    wait_dead(before)
    wait_for(lambda: _replaced(handle, before), timeout=120, what="a new Scheduler")


__all__ = ["kill_scheduler_for_good", "pid_of", "restart_scheduler", "wait_dead", "wait_for", "worker_names",
           "worker_of"]
