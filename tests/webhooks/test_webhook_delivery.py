"""The delivery engine in-process, against a real SQLite store and a real local receiver."""

from __future__ import annotations

import asyncio
import time

from receiver import LIFECYCLE, Receiver, add_task, drain, event, event_types, write_events
from sqlalchemy import select

from videoai_ray.models import EventType
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore
from videoai_ray.webhooks import get_user_secret
from videoai_ray.webhooks.delivery import DeliveryWorker
from videoai_ray.webhooks.schema import webhook_deliveries as wd


def _row(store: TaskStore, webhook_id: str) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(wd).where(wd.c.id == webhook_id)).one()._mapping)


def _settings(base: Settings, **kw: object) -> Settings:
    return base.model_copy(update=kw)


def test_task_secret_and_order(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.secret = "task-secret-1"
    add_task(store, "t1", receiver.url, secret="task-secret-1")
    rows = write_events(store, [event("t1", receiver.url, e) for e in LIFECYCLE])
    assert drain(wh_settings, store)
    got = receiver.wait_for(len(rows))
    assert all(r.seed_ok and r.standard_ok for r in got)
    assert [r.webhook_id for r in got] == [r["id"] for r in rows]
    assert [r.payload["event_type"] for r in got] == [e.value for e in LIFECYCLE]
    assert got[0].headers["content-type"] == "application/json"
    row = _row(store, rows[-1]["id"])
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status_code"] == 200
    assert row["log"][0]["attempt"] == 1 and row["log"][0]["latency_ms"] >= 0


def test_user_secret_when_task_has_none(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.secret = get_user_secret(store.engine, "user_1")
    assert receiver.secret.startswith("whsec_")
    add_task(store, "t1", receiver.url)
    write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    (got,) = receiver.wait_for(1)
    assert got.seed_ok and got.standard_ok


def test_500_then_200_is_retried_with_the_same_id(wh_settings: Settings, store: TaskStore,
                                                  receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.answer(500, (503, {"Retry-After": "0"}))
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert {r.webhook_id for r in receiver.received} == {row["id"]}
    assert all(r.seed_ok and r.standard_ok for r in receiver.received)
    saved = _row(store, row["id"])
    assert saved["status"] == "delivered" and saved["attempts"] == 3
    assert [e["status_code"] for e in saved["log"]] == [500, 503, 200]


def test_4xx_is_not_retried_and_the_next_event_follows(wh_settings: Settings, store: TaskStore,
                                                       receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.answer(404)
    add_task(store, "t1", receiver.url, secret="s")
    rows = write_events(store, [event("t1", receiver.url, e)
                                for e in (EventType.STARTED, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    assert [r.answered for r in receiver.received] == [404, 200]
    first = _row(store, rows[0]["id"])
    assert first["status"] == "failed" and first["attempts"] == 1 and first["last_error"] == "HTTP 404"
    assert _row(store, rows[1]["id"])["status"] == "delivered"


def test_gives_up_after_max_attempts(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.answer(*[500] * 10)
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(_settings(wh_settings, webhook_max_attempts=3), store)
    saved = _row(store, row["id"])
    assert saved["status"] == "failed" and saved["attempts"] == 3 and len(receiver.received) == 3


def test_receiver_down_then_back(wh_settings: Settings, store: TaskStore) -> None:
    receiver = Receiver()  # not listening yet
    receiver.secret = "s"
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    settings = _settings(wh_settings, retry_schedule=(0.2,), webhook_max_attempts=50)

    async def scenario() -> None:
        worker = DeliveryWorker(settings, store.engine, poll_interval=0.2)
        loop = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while _row(store, row["id"])["attempts"] < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        receiver.start()
        try:
            assert await worker.drain(10)
        finally:
            await worker.stop()
            await loop
            receiver.stop()

    asyncio.run(scenario())
    saved = _row(store, row["id"])
    assert saved["status"] == "delivered" and saved["attempts"] >= 3
    assert "ConnectError" in saved["log"][0]["error"]
    assert receiver.received[0].webhook_id == row["id"] and receiver.received[0].seed_ok


def test_timeout_is_retried(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.delay = 1.0
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    settings = _settings(wh_settings, webhook_timeout=0.3, retry_schedule=(0.5,))

    async def scenario() -> None:
        worker = DeliveryWorker(settings, store.engine, poll_interval=0.2)
        await worker.tick()
        await asyncio.sleep(0.45)
        receiver.delay = 0.0
        try:
            assert await worker.drain(10)
        finally:
            await worker.stop()

    asyncio.run(scenario())
    saved = _row(store, row["id"])
    assert saved["status"] == "delivered" and saved["log"][0]["error"] == "timeout"


def test_tasks_run_concurrently_but_each_in_order(wh_settings: Settings, store: TaskStore,
                                                  receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.delay = 0.05
    tasks = [f"t{i}" for i in range(8)]
    for t in tasks:
        add_task(store, t, receiver.url, secret="s")
    for e in LIFECYCLE:  # one batch per transition, interleaved across tasks, as the Scheduler writes
        write_events(store, [event(t, receiver.url, e) for t in tasks])
    started = time.monotonic()
    assert drain(wh_settings, store)
    elapsed = time.monotonic() - started
    got = receiver.wait_for(len(tasks) * len(LIFECYCLE))
    for t in tasks:
        assert event_types(got, t) == [e.value for e in LIFECYCLE]
    assert elapsed < len(got) * receiver.delay  # not one at a time
