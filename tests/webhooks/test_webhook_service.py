"""What the API and the SDK call: status, listing, statistics, redelivery, user secrets."""

from __future__ import annotations

from receiver import Receiver, add_task, drain, event, write_events

from videoai_ray.models import EventType
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore, utcnow
from videoai_ray.webhooks import (
    delivery_status,
    get_user_secret,
    list_deliveries,
    purge_deliveries,
    redeliver,
    rotate_user_secret,
    statistics,
)


def test_status_list_and_isolation(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.answer(500)
    add_task(store, "t1", receiver.url, secret="s")
    rows = write_events(store, [event("t1", receiver.url, e)
                                for e in (EventType.STARTED, EventType.COMPLETED)])
    pending = delivery_status(store.engine, rows[0]["id"], "user_1", instance=store.instance)
    assert pending is not None and pending["status"] == "pending" and pending["next_attempt_at"] is not None
    assert drain(wh_settings, store)
    st = delivery_status(store.engine, rows[0]["id"], "user_1", instance=store.instance)
    assert st is not None
    assert st["status"] == "delivered" and st["attempts"] == 2 and st["next_attempt_at"] is None
    assert [e["status_code"] for e in st["log"]] == [500, 200]
    assert st["payload"]["event_type"] == "task.started"
    assert delivery_status(store.engine, rows[0]["id"], "user_2", instance=store.instance) is None
    assert delivery_status(store.engine, "msg_unknown", "user_1", instance=store.instance) is None
    listed = list_deliveries(store.engine, "user_1", "t1", instance=store.instance)
    assert [d["webhook_id"] for d in listed] == [r["id"] for r in rows]
    assert list_deliveries(store.engine, "user_2", instance=store.instance) == []
    assert len(list_deliveries(store.engine, "user_1", status="delivered", instance=store.instance)) == 2


def test_statistics(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.answer(410)  # the first delivery fails for good
    add_task(store, "t1", receiver.url, secret="s")
    add_task(store, "t2", receiver.url, secret="s", user_id="user_2")
    write_events(store, [event("t1", receiver.url, EventType.FAILED)])
    assert drain(wh_settings, store)
    write_events(store, [event("t1", receiver.url, EventType.CANCELLED),
                         event("t2", receiver.url, EventType.COMPLETED, user_id="user_2")])
    assert drain(wh_settings, store)
    write_events(store, [event("t2", receiver.url, EventType.STARTED, user_id="user_2")])
    s1 = statistics(store.engine, "user_1", instance=store.instance)
    assert s1["by_status"] == {"pending": 0, "delivered": 1, "failed": 1}
    assert s1["success_rate"] == 0.5 and s1["attempts"] == 2 and s1["mean_latency_ms"] > 0
    everyone = statistics(store.engine, instance=store.instance)
    assert everyone["total"] == 4 and everyone["pending"] == 1 and everyone["retrying"] == 0
    assert everyone["success_rate"] == round(2 / 3, 4)
    assert purge_deliveries(store.engine, utcnow()) == 3  # finished ones only
    assert statistics(store.engine, instance=store.instance)["by_status"] == {"pending": 1, "delivered": 0, "failed": 0}


def test_redelivery_of_a_failed_event(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.answer(400)
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    assert delivery_status(store.engine, row["id"], "user_1", instance=store.instance)["status"] == "failed"  # type: ignore[index]
    assert redeliver(store.engine, row["id"], "user_2", instance=store.instance) is None
    again = redeliver(store.engine, row["id"], "user_1", instance=store.instance)
    assert again is not None and again["status"] == "pending" and again["attempts"] == 0
    assert drain(wh_settings, store)
    st = delivery_status(store.engine, row["id"], "user_1", instance=store.instance)
    assert st is not None and st["status"] == "delivered"
    assert [e.get("event") for e in st["log"]] == [None, "redelivery requested", None]
    assert [r.webhook_id for r in receiver.received] == [row["id"], row["id"]]
    assert receiver.received[-1].seed_ok and receiver.received[-1].standard_ok


def test_user_secret_rotation(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    first = get_user_secret(store.engine, "user_1")
    assert get_user_secret(store.engine, "user_1") == first
    assert get_user_secret(store.engine, "user_2") != first
    new = rotate_user_secret(store.engine, "user_1")
    assert new != first and get_user_secret(store.engine, "user_1") == new
    add_task(store, "t1", receiver.url)
    receiver.secret = new
    write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    (got,) = receiver.wait_for(1)
    assert got.seed_ok and got.standard_ok
    # during the grace period the old secret still verifies the Standard Webhooks header
    from receiver import standard_verifier

    standard_verifier(first).verify(got.body, got.headers)
