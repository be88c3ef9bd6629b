"""Helpers for the webhook tests: a real HTTP receiver on 127.0.0.1 that verifies every delivery
both ways (the VideoAI API contract's ``verify_webhook`` and the ``standardwebhooks`` package) and can be scripted
to fail, stall or go down; a task store on a real SQLite file; helpers that write outbox rows the
way the Scheduler does. (A module of its own, not ``conftest``, so tests can import it.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from videoai_ray.models import EventType
from videoai_ray.models.events import event_payload
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore, utcnow
from videoai_ray.webhooks.delivery import DeliveryWorker
from videoai_ray.webhooks.outbox import WebhookEvent, outbox_rows
from videoai_ray.webhooks.schema import webhook_deliveries


# The VideoAI API contract's verification function, copied verbatim (only a whitespace-only line trimmed).
def verify_webhook(payload, signature, secret):
    expected = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()

    return hmac.compare_digest(f"sha256={expected}", signature)


def standard_verifier(secret: str) -> Webhook:
    """How a receiver builds its Standard Webhooks verifier (as docs/webhooks.md documents it)."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    seed_ok: bool
    standard_ok: bool
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """A webhook receiver on ``127.0.0.1:<port>``. ``answer(...)`` queues responses (then 200);
    ``secrets`` maps task ids to the secret their deliveries must verify with (else ``secret``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret: str | None = None
        self.secrets: dict[str, str] = {}
        self.delay = 0.0
        self.received: list[Received] = []
        self._script: deque[tuple[int, dict[str, str]]] = deque()
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *responses: int | tuple[int, dict[str, str]]) -> None:
        for r in responses:
            self._script.append(r if isinstance(r, tuple) else (r, {}))

    def _verify(self, body: str, headers: dict[str, str]) -> tuple[bool, bool]:
        task_id = json.loads(body).get("task_id", "")
        secret = self.secrets.get(task_id, self.secret)
        if not secret:
            return False, False
        seed_ok = verify_webhook(body, headers.get("x-webhook-signature", ""), secret)
        try:
            standard_verifier(secret).verify(body, headers)
            std_ok = True
        except Exception:
            std_ok = False
        return seed_ok, std_ok

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        body = req.rfile.read(int(req.headers.get("content-length") or 0)).decode()
        headers = {k.lower(): v for k, v in req.headers.items()}
        if self.delay:
            time.sleep(self.delay)
        with self._cond:
            status, extra = self._script.popleft() if self._script else (200, {})
        seed_ok, std_ok = self._verify(body, headers)
        req.send_response(status)
        for k, v in extra.items():
            req.send_header(k, v)
        req.send_header("Content-Length", "2")
        req.end_headers()
        req.wfile.write(b"ok")
        with self._cond:
            self.received.append(Received(req.path, headers, body, seed_ok, std_ok, status))
            self._cond.notify_all()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        """The first ``n`` deliveries answered 2xx, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.ok()) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.ok())} of {n} deliveries arrived: {self.received}")
                self._cond.wait(left)
            return self.ok()

    def ok(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]


_STATUS = {EventType.CREATED: "pending", EventType.STARTED: "processing", EventType.PROGRESS: "processing",
           EventType.COMPLETED: "completed", EventType.FAILED: "failed", EventType.CANCELLED: "cancelled"}

LIFECYCLE = [EventType.CREATED, EventType.STARTED, EventType.PROGRESS, EventType.PROGRESS,
             EventType.COMPLETED]


def add_task(store: TaskStore, task_id: str, url: str, *, user_id: str = "user_1",
             secret: str | None = None, events: list[str] | None = None) -> None:
    """A task row as the Scheduler writes it (only what the webhooks read matters)."""
    store.insert_many([{
        "id": task_id, "type": "image_generation", "status": "pending", "priority": "medium",
        "user_id": user_id, "input": {"prompt": "x"}, "attempts": 0, "max_retries": 3, "progress": 0.0,
        "created_at": utcnow(), "webhook_url": url, "webhook_secret": secret, "webhook_events": events,
        "meta": {}, "options": {}, "cache_hit": False,
    }])


def event(task_id: str, url: str, event_type: EventType, *, user_id: str = "user_1",
          progress: float = 0.0, events_filter: list[str] | None = None) -> WebhookEvent:
    payload = event_payload(event_type, task_id=task_id, task_type="image_generation",
                            status=_STATUS[event_type], user_id=user_id, timestamp=utcnow(),
                            progress=progress)
    return WebhookEvent(task_id=task_id, user_id=user_id, url=url, event_type=event_type,
                        payload=payload, events_filter=events_filter)


def write_events(store: TaskStore, events: Sequence[WebhookEvent]) -> list[dict[str, Any]]:
    """Write outbox rows the way the Scheduler does (``update_many`` with inserts)."""
    rows = outbox_rows(events, utcnow(), store.instance)
    store.update_many([], inserts=[(webhook_deliveries, rows)])
    return rows


def event_types(got: Sequence[Received], task_id: str) -> list[str]:
    """The event types a task's deliveries carried, in arrival order."""
    return [r.payload["event_type"] for r in got if r.payload["task_id"] == task_id]


def drain(settings: Settings, store: TaskStore, timeout: float = 15.0) -> bool:
    """Run an in-process delivery worker until nothing is pending."""

    async def go() -> bool:
        worker = DeliveryWorker(settings, store.engine, poll_interval=0.2)
        try:
            return await worker.drain(timeout)
        finally:
            await worker.stop()

    return asyncio.run(go())
