"""Outbox rows (event filter, order, fixed body) and the progress throttle."""

from __future__ import annotations

import json

from receiver import event

from videoai_ray.models import EventType
from videoai_ray.store import utcnow
from videoai_ray.webhooks.outbox import ProgressThrottle, outbox_rows

URL = "https://example.com/hook"


def test_rows_follow_order_and_keep_the_body() -> None:
    evs = [event("t1", URL, e) for e in (EventType.CREATED, EventType.STARTED, EventType.COMPLETED)]
    rows = outbox_rows(evs, utcnow(), "default")
    assert [r["event_type"] for r in rows] == ["task.created", "task.started", "task.completed"]
    assert [r["seq"] for r in rows] == sorted({r["seq"] for r in rows})
    assert len({r["id"] for r in rows}) == 3 and all(r["id"].startswith("msg_") for r in rows)
    assert json.loads(rows[2]["body"]) == evs[2].payload
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows)
    later = outbox_rows([event("t1", URL, EventType.PROGRESS)], utcnow(), "default")
    assert later[0]["seq"] > rows[-1]["seq"]


def test_filter_keeps_terminal_events() -> None:
    only = ["task.completed"]
    evs = [event("t1", URL, e, events_filter=only) for e in
           (EventType.CREATED, EventType.PROGRESS, EventType.COMPLETED)]
    evs.append(event("t2", URL, EventType.FAILED, events_filter=[]))
    evs.append(event("t3", URL, EventType.STARTED, events_filter=["task.started"]))
    got = [(r["task_id"], r["event_type"]) for r in outbox_rows(evs, utcnow(), "default")]
    assert got == [("t1", "task.completed"), ("t2", "task.failed"), ("t3", "task.started")]


def test_progress_throttle() -> None:
    th = ProgressThrottle(2.0)
    P = EventType.PROGRESS
    assert th.allow("a", EventType.CREATED, 0.0)
    assert th.allow("a", P, 0.0)
    assert not th.allow("a", P, 1.9)
    assert th.allow("b", P, 1.9)  # per task
    assert th.allow("a", P, 2.0)
    assert not th.allow("a", P, 3.0)
    assert th.allow("a", EventType.COMPLETED, 3.5)
    assert not th.allow("a", P, 10.0)  # nothing after the terminal event
    assert not th.allow("a", EventType.STARTED, 10.0)
    th.forget("a")
    assert th.allow("a", P, 11.0)


def test_progress_throttle_forgets_old_finished_tasks() -> None:
    th = ProgressThrottle(0.0, max_finished=2)
    for t in ("a", "b", "c"):
        th.allow(t, EventType.CANCELLED, 0.0)
    assert th.allow("a", EventType.PROGRESS, 1.0)  # evicted: memory stays bounded
    assert not th.allow("c", EventType.PROGRESS, 1.0)
