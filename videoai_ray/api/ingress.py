"""Hardening of Ray Serve's HAProxy ingress, applied inside the Serve processes.

Ray Serve 2.60 renders HAProxy's configuration from a fixed template that binds its statistics page
(no authentication) on ``*:8404`` and its Prometheus exporter on ``:9101`` (every interface), and
starts HAProxy as a plain child process, which outlives its parent when Ray is stopped with
``ray stop --force``. :func:`harden_haproxy` runs as the ``worker_process_setup_hook`` of the Serve
processes (set through the controller's runtime environment, so it reaches the proxies too) and
changes both: the statistics page is off, the exporter binds only to the Serve host (loopback by
default), and HAProxy gets ``SIGTERM`` when the process that started it dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

log = logging.getLogger("videoai.api")

#: the hook's import path, for ``runtime_env["worker_process_setup_hook"]``
SETUP_HOOK = f"{__name__}.harden_haproxy"

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


def _tied_to_parent(spawn: Callable[..., Any]) -> Callable[..., Any]:
    async def spawn_haproxy(*args: Any, **kw: Any) -> Any:
        if args and os.path.basename(str(args[0])).startswith("haproxy") and "preexec_fn" not in kw:
            kw["preexec_fn"] = die_with_parent()
        return await spawn(*args, **kw)

    spawn_haproxy.__wrapped__ = spawn  # type: ignore[attr-defined]
    return spawn_haproxy


def harden_haproxy() -> None:
    """Patch Serve's HAProxy module in this process (a no-op where Serve has no HAProxy)."""
    try:
        from ray.serve._private import haproxy
    except ImportError:  # another Ray version, or Serve without HAProxy support
        return
    try:
        haproxy.HAPROXY_CONFIG_TEMPLATE = hardened_template(haproxy.HAPROXY_CONFIG_TEMPLATE)
    except (AttributeError, ValueError):
        log.warning("could not harden HAProxy's configuration (Ray Serve changed)", exc_info=True)
    if os.uname().sysname == "Linux":
        aio = haproxy.asyncio
        if not hasattr(aio.create_subprocess_exec, "__wrapped__"):
            aio.create_subprocess_exec = _tied_to_parent(aio.create_subprocess_exec)


__all__ = ["SETUP_HOOK", "die_with_parent", "harden_haproxy", "hardened_template"]
