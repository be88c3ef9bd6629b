"""Hardening of Ray Serve's HAProxy ingress, loaded at start by every Serve process.

Ray Serve 2.60 renders HAProxy's configuration from a fixed template that binds its statistics page
(no authentication) on ``*:8404`` and its Prometheus exporter on ``:9101`` (every interface), and
starts HAProxy as a plain child process, which outlives its parent when Ray is stopped with
``ray stop --force``. Serve accepts only environment variables for its controller, so
``run_server`` puts this folder first on the Serve processes' ``PYTHONPATH``, and Python runs this
``sitecustomize`` at start. It patches Serve's HAProxy module once that is imported: the statistics
page is off, the exporter binds only to the Serve host (loopback by default), and HAProxy gets
``SIGTERM`` when the process that started it dies. Standard library only: it runs before anything
else in the process. Another ``sitecustomize`` further on the path still runs.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

TARGET = "ray.serve._private.haproxy"
_STATS_BIND = "  bind *:{{ config.stats_port }}"
_METRICS_BIND = "    bind :{{ config.metrics_port }}"
_PR_SET_PDEATHSIG = 1


def hardened_template(template: str) -> str:
    """Serve's HAProxy template with the stats page removed and the exporter bound to the Serve
    host. Raises ``ValueError`` when the template no longer has the lines this expects."""
    start = template.find("listen stats\n")
    if start < 0 or _STATS_BIND not in template[start:] or _METRICS_BIND not in template:
        raise ValueError("Ray Serve's HAProxy template changed: stats/metrics binds not found")
    end = template.find("\n", template.index("stats refresh", start))
    template = template[:start] + template[end + 1 if end >= 0 else len(template):]
    return template.replace(_METRICS_BIND, "    bind {{ config.frontend_host }}:{{ config.metrics_port }}")


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when the thread that started it dies (Linux)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


def tied_to_parent(spawn: Callable[..., Any]) -> Callable[..., Any]:
    """``asyncio.create_subprocess_exec`` that ties the life of an ``haproxy`` child to its parent."""

    async def spawn_haproxy(*args: Any, **kw: Any) -> Any:
        if args and os.path.basename(str(args[0])).startswith("haproxy") and "preexec_fn" not in kw:
            kw["preexec_fn"] = die_with_parent()
        return await spawn(*args, **kw)

    spawn_haproxy.__wrapped__ = spawn  # type: ignore[attr-defined]
    return spawn_haproxy


def harden(module: ModuleType) -> None:
    """Patch Serve's HAProxy module (its template, and how it starts HAProxy)."""
    try:
        module.__dict__["HAPROXY_CONFIG_TEMPLATE"] = hardened_template(module.__dict__["HAPROXY_CONFIG_TEMPLATE"])
    except (KeyError, ValueError):
        logging.getLogger("videoai.api").warning("could not harden HAProxy's configuration", exc_info=True)
    aio = getattr(module, "asyncio", None)
    if sys.platform.startswith("linux") and aio is not None and not hasattr(aio.create_subprocess_exec, "__wrapped__"):
        aio.create_subprocess_exec = tied_to_parent(aio.create_subprocess_exec)


class _HardenOnImport(importlib.abc.MetaPathFinder):
    """Runs :func:`harden` right after Serve's HAProxy module is first imported."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_harden(module: ModuleType) -> None:
            exec_module(module)
            harden(module)

        loader.exec_module = exec_and_harden  # type: ignore[method-assign]
        return spec


def _chain() -> None:
    """Run the next ``sitecustomize`` on the path, which this module shadows."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    if TARGET in sys.modules:
        harden(sys.modules[TARGET])
    else:
        sys.meta_path.insert(0, _HardenOnImport())
    _chain()
