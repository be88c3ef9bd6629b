"""The real dispatcher actor on the session's local Ray: woken by the writer, resumes after a
restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import ray
from receiver import LIFECYCLE, Receiver, add_task, event, event_types, write_events
from sqlalchemy import func, select

from videoai_ray.models import EventType
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore
from videoai_ray.webhooks import get_or_create_dispatcher, get_user_secret
from videoai_ray.webhooks.dispatcher import NAMESPACE, dispatcher_name
from videoai_ray.webhooks.schema import webhook_deliveries as wd

pytestmark = pytest.mark.slow


@pytest.fixture
def dispatcher(ray_session: None, wh_settings: Settings, store: TaskStore) -> Iterator[ray.actor.ActorHandle]:
    handle = get_or_create_dispatcher(wh_settings, poll_interval=30.0)  # only wake() makes it look early
    yield handle
    ray.kill(handle, no_restart=True)


def _pending(store: TaskStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(wd.c.status == "pending")).scalar() or 0)


def _wait_until_nothing_pending(store: TaskStore, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _pending(store):
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.05)


def test_event_sequence_through_the_actor(wh_settings: Settings, store: TaskStore, receiver: Receiver,
                                          dispatcher: ray.actor.ActorHandle) -> None:
    assert get_or_create_dispatcher(wh_settings)._actor_id == dispatcher._actor_id  # one per instance
    assert ray.get_actor(dispatcher_name(wh_settings), namespace=NAMESPACE)._actor_id == dispatcher._actor_id
    ray.get(dispatcher.status.remote())
    receiver.secrets = {"t1": "own-secret"}
    receiver.secret = get_user_secret(store.engine, "user_1")
    add_task(store, "t1", receiver.url, secret="own-secret")
    add_task(store, "t2", receiver.url)
    ids = []
    for e in LIFECYCLE:  # one transaction per transition, then a fire-and-forget wake, as the Scheduler does
        ids += [r["id"] for r in write_events(store, [event(t, receiver.url, e) for t in ("t1", "t2")])]
        dispatcher.wake.remote()
    got = receiver.wait_for(len(ids))
    assert all(r.seed_ok and r.standard_ok for r in got)
    for t in ("t1", "t2"):
        assert event_types(got, t) == [e.value for e in LIFECYCLE]
    assert sorted(r.webhook_id for r in got) == sorted(ids)
    _wait_until_nothing_pending(store)
    status = ray.get(dispatcher.status.remote())
    assert status["running"] and status["attempts_recorded"] == len(ids)


def test_restart_with_pending_deliveries(wh_settings: Settings, store: TaskStore) -> None:
    receiver = Receiver()  # down for now
    receiver.secret = "s"
    settings = wh_settings.model_copy(update={"retry_schedule": (0.3,), "webhook_max_attempts": 100})
    handle = get_or_create_dispatcher(settings, poll_interval=30.0)
    try:
        add_task(store, "t1", receiver.url, secret="s")
        rows = write_events(store, [event("t1", receiver.url, e) for e in
                                    (EventType.CREATED, EventType.STARTED, EventType.COMPLETED)])
        handle.wake.remote()
        deadline = time.monotonic() + 20
        while True:  # the receiver is down: the first event is being retried
            with store.engine.connect() as conn:
                if conn.execute(select(wd.c.attempts).where(wd.c.id == rows[0]["id"])).scalar():
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pid = ray.get(handle.status.remote())["pid"]
        ray.kill(handle, no_restart=False)
        receiver.start()
        # no wake: the restarted actor resumes from the pending rows on its own
        got = receiver.wait_for(3, timeout=30)
        assert [r.webhook_id for r in got] == [r["id"] for r in rows]
        assert all(r.seed_ok and r.standard_ok for r in got)
        _wait_until_nothing_pending(store)
        assert ray.get(handle.status.remote())["pid"] != pid  # delivered by the restarted actor
    finally:
        ray.kill(handle, no_restart=True)
        receiver.stop()
