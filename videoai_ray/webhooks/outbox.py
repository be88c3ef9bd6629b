"""Turning task events into outbox rows, and throttling progress events.

The Scheduler calls :func:`outbox_rows` for a batch of transitions and inserts the rows with
``TaskStore.update_many(changes, inserts=[(webhook_deliveries, rows)])``: the events are stored in
the same transaction as the transitions, so an event exists if and only if its transition does.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import EventType
from .schema import PENDING


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One task event bound for the task's webhook URL."""

    task_id: str
    user_id: str
    url: str
    event_type: EventType
    #: the VideoAI API contract's body, from ``models.events.event_payload``
    payload: dict[str, Any]
    #: the task's ``webhook_events``: event names to send, ``None`` for all (terminal always sent)
    events_filter: list[str] | None = None


def new_webhook_id() -> str:
    """A fresh ``webhook-id``: ``msg_`` and 32 hex digits."""
    return "msg_" + uuid.uuid4().hex


def wanted(event_type: EventType, events_filter: Sequence[str] | None) -> bool:
    """Whether a task's event filter lets ``event_type`` through; terminal events always pass."""
    return events_filter is None or event_type.terminal or event_type.value in events_filter


def encode_body(payload: dict[str, Any]) -> str:
    """The exact JSON text that is signed and sent (compact, ASCII-only)."""
    return json.dumps(payload, separators=(",", ":"), default=str)


class _SeqClock:
    """Hybrid clock for ``seq``: microseconds since the epoch, but never less than last + 1.

    Strictly increasing within a process; across a Scheduler restart it keeps increasing unless the
    wall clock went back by more than the restart took. Only order within a task matters.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


_seq_clock = _SeqClock()


def outbox_rows(events: Sequence[WebhookEvent], now: datetime, instance: str) -> list[dict[str, Any]]:
    """Rows for ``webhook_deliveries``, one per event the task's filter lets through, for the
    dispatcher of ``instance`` (the instance whose task or pipeline it is) to send.

    ``events`` must be in the order they happened; that order becomes the per-task ``seq``.
    ``now`` (timezone-aware UTC) is the creation time and the first attempt time.
    """
    rows: list[dict[str, Any]] = []
    for ev in events:
        if not wanted(ev.event_type, ev.events_filter):
            continue
        rows.append({
            "id": new_webhook_id(),
            "instance": instance,
            "task_id": ev.task_id,
            "user_id": ev.user_id,
            "event_type": ev.event_type.value,
            "seq": _seq_clock.next(),
            "url": ev.url,
            "body": encode_body(ev.payload),
            "status": PENDING,
            "attempts": 0,
            "last_status_code": None,
            "last_error": None,
            "last_latency_ms": None,
            "next_attempt_at": now,
            "created_at": now,
            "cycle_started_at": now,
            "delivered_at": None,
            "log": [],
        })
    return rows


class ProgressThrottle:
    """At most one ``task.progress`` per task per ``interval`` seconds, and none after the task's
    terminal event. Pure bookkeeping: the caller passes the time (e.g. ``time.monotonic()``).

    Finished task ids are remembered in a bounded LRU (``max_finished``) so memory stays flat over
    long runs; a progress event for a task forgotten there would pass, which only costs a message.
    """

    def __init__(self, interval: float, *, max_finished: int = 65_536) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._max_finished = max_finished

    def allow(self, task_id: str, event_type: EventType, now: float) -> bool:
        """Whether to emit ``event_type`` for ``task_id`` at ``now``; records what it lets through."""
        if event_type.terminal:
            self._last.pop(task_id, None)
            self._finished[task_id] = None
            self._finished.move_to_end(task_id)
            while len(self._finished) > self._max_finished:
                self._finished.popitem(last=False)
            return True
        if task_id in self._finished:
            return False
        if event_type is not EventType.PROGRESS:
            return True
        last = self._last.get(task_id)
        if last is not None and now - last < self.interval:
            return False
        self._last[task_id] = now
        return True

    def forget(self, task_id: str) -> None:
        """Drop what is known about ``task_id`` (e.g. when a finished task is retried manually)."""
        self._last.pop(task_id, None)
        self._finished.pop(task_id, None)


__all__ = ["ProgressThrottle", "WebhookEvent", "encode_body", "new_webhook_id", "outbox_rows", "wanted"]
