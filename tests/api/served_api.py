"""Helpers for the HTTP API tests: the running server, per-user clients, and a webhook receiver on
127.0.0.1. (A module of its own, not ``conftest``, so tests can import it.)"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from videoai_ray.api import create_token
from videoai_ray.api.server import ServerInfo
from videoai_ray.settings import Settings

#: the request size limit of the test server (small, so the 413 tests send little)
MAX_BYTES = 16 * 1024


def serve_test_env(haproxy_dir: str) -> dict[str, str]:
    """Serve environment for the tests' HAProxy mode: quick shutdown, and HAProxy's stats and
    metrics ports and its files (config, admin socket) of its own, so a test session does not
    collide with another HAProxy-mode Serve on the machine (``haproxy_dir`` must be short: it
    holds a Unix socket)."""
    return {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0.5",
            "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": f"{haproxy_dir}/haproxy.cfg",
            "RAY_SERVE_HAPROXY_SOCKET_PATH": f"{haproxy_dir}/admin.sock",
            "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": f"{haproxy_dir}/metrics.sock",
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": haproxy_dir,
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": f"{haproxy_dir}/server-state"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop without the service; fail under ``CI=true`` (as ``tests/conftest.py``)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI=true: services are required)")
    pytest.skip(reason)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Api:
    """The session's running API: where it is, its settings, and clients per user."""

    info: ServerInfo
    settings: Settings
    #: HAProxy's files (config, sockets) when the session runs behind HAProxy
    haproxy_dir: str = ""
    _clients: list[httpx.Client] = field(default_factory=list)

    def token(self, user: str, **kw: Any) -> str:
        return create_token(self.settings, user, **kw)

    def client(self, user: str | None = None, token: str | None = None, **kw: Any) -> httpx.Client:
        """A client on ``/api/v1/media`` authenticated as ``user`` (or with ``token``, or none)."""
        headers = {}
        if user or token:
            headers["Authorization"] = f"Bearer {token or self.token(user or '', **kw)}"
        c = httpx.Client(base_url=self.info.api_url, headers=headers, timeout=30.0)
        self._clients.append(c)
        return c

    def root(self) -> httpx.Client:
        c = httpx.Client(base_url=self.info.url, timeout=30.0)
        self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()


def noop(prompt: str | None = None, **kw: Any) -> dict[str, Any]:
    """An image body pinned to the no-op provider, cache off (a unique prompt by default)."""
    return {"prompt": prompt or unique("prompt"), "provider": "noop", "use_cache": False, **kw}


def parked(**kw: Any) -> dict[str, Any]:
    """An image body for the provider that holds its one slot for a minute (tasks stay queued)."""
    return {"prompt": unique("parked"), "provider": "park", "use_cache": False, **kw}


#: the operator's tenant routes (beside ``/api/v1/media``)
ADMIN_TENANTS = "/api/v1/admin/tenants"


def operator_client(api: Api) -> httpx.Client:
    """A client with an operator token on the API's root (where the operator's routes are)."""
    c = api.root()
    c.headers["Authorization"] = f"Bearer {api.token('ops', operator=True)}"
    return c


def new_tenant(api: Api, prefix: str) -> str:
    """A new tenant, made by the operator, with a unique id starting with ``prefix``."""
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    r = operator_client(api).post(ADMIN_TENANTS, json={"id": tenant, "display_name": prefix.title()})
    assert r.status_code == 201, r.text
    return tenant


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds (a loaded machine is slow), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def error_of(r: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of the API's one error shape (and check that shape)."""
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"code", "message", "field"} <= set(err), err
    assert "Traceback" not in r.text
    return err


class Receiver:
    """A webhook receiver: answers 200 to every POST and keeps the bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.bodies.append(json.loads(raw))
                received.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
