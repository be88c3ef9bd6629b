"""Private addresses are refused at send time too, and redirects are followed by hand, each hop
checked."""

from __future__ import annotations

from receiver import Receiver, add_task, drain, event, write_events
from sqlalchemy import select

from videoai_ray.models import EventType
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore
from videoai_ray.webhooks.schema import webhook_deliveries as wd


def _row(store: TaskStore, webhook_id: str) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(wd).where(wd.c.id == webhook_id)).one()._mapping)


def test_refused_at_send_time(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    # The URL was accepted while 127.0.0.1 was allow-listed; the dispatcher runs without that.
    strict = wh_settings.model_copy(update={"url_allowlist": ()})
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(strict, store)
    saved = _row(store, row["id"])
    assert saved["status"] == "failed" and saved["attempts"] == 1
    assert "non-public address" in saved["last_error"]
    assert receiver.received == []


def test_redirects_followed_with_the_same_signed_body(wh_settings: Settings, store: TaskStore,
                                                      receiver: Receiver) -> None:
    receiver.secret = "s"
    receiver.answer((307, {"Location": "/hook2"}), (302, {"Location": f"http://localhost:{receiver.port}/h3"}))
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    assert [r.path for r in receiver.received] == ["/hook", "/hook2", "/h3"]
    assert all(r.seed_ok and r.standard_ok and r.webhook_id == row["id"] for r in receiver.received)
    saved = _row(store, row["id"])
    assert saved["status"] == "delivered" and saved["attempts"] == 1
    assert saved["log"][0]["url"].endswith("/h3")


def test_redirect_to_a_private_address_is_refused(wh_settings: Settings, store: TaskStore,
                                                  receiver: Receiver) -> None:
    receiver.answer((302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    saved = _row(store, row["id"])
    assert saved["status"] == "failed" and "refused" in saved["last_error"]
    assert len(receiver.received) == 1


def test_too_many_redirects(wh_settings: Settings, store: TaskStore, receiver: Receiver) -> None:
    receiver.answer(*[(308, {"Location": "/again"})] * 4)
    add_task(store, "t1", receiver.url, secret="s")
    (row,) = write_events(store, [event("t1", receiver.url, EventType.COMPLETED)])
    assert drain(wh_settings, store)
    saved = _row(store, row["id"])
    assert saved["status"] == "failed" and saved["last_error"] == "more than 3 redirects"
    assert len(receiver.received) == 4
