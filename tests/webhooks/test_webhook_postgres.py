"""The store side against the real PostgreSQL: migrations, outbox rows, delivery, service
functions. Runs in a schema of its own, dropped afterwards, so it never touches other tests' tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from receiver import LIFECYCLE, Receiver, add_task, drain, event, write_events
from sqlalchemy import create_engine, text

from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore
from videoai_ray.store.migrate import alembic_config, current
from videoai_ray.webhooks import delivery_status, get_user_secret, list_deliveries, redeliver, statistics

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, wh_settings: Settings) -> Iterator[Settings]:
    schema = "wh_" + uuid.uuid4().hex[:12]
    base = Settings(database_url=pg_url).db_url
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield Settings(
            home=wh_settings.home, database_url=f"{base}?options=-csearch_path%3D{schema}",
            url_allowlist=wh_settings.url_allowlist, retry_schedule=wh_settings.retry_schedule,
            webhook_timeout=wh_settings.webhook_timeout, instance=wh_settings.instance,
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_store_side_on_postgres(pg_settings: Settings, receiver: Receiver) -> None:
    store = TaskStore(pg_settings.db_url, instance=pg_settings.instance)
    try:
        assert store.engine.dialect.name == "postgresql"
        assert current(store.engine) == ScriptDirectory.from_config(alembic_config()).get_current_head()
        receiver.secret = get_user_secret(store.engine, "user_1")
        receiver.answer(503)
        add_task(store, "t1", receiver.url)
        rows = write_events(store, [event("t1", receiver.url, e) for e in LIFECYCLE])
        assert statistics(store.engine, "user_1", instance=store.instance)["pending"] == len(rows)
        assert drain(pg_settings, store)
        got = receiver.wait_for(len(rows))
        assert all(r.seed_ok and r.standard_ok for r in got)
        assert [r.webhook_id for r in got] == [r["id"] for r in rows]
        st = delivery_status(store.engine, rows[0]["id"], "user_1", instance=store.instance)
        assert st is not None and st["attempts"] == 2 and st["created_at"].tzinfo is not None
        assert [d["event_type"] for d in list_deliveries(store.engine, "user_1", "t1", instance=store.instance)] == [
            e.value for e in LIFECYCLE]
        again = redeliver(store.engine, rows[-1]["id"], "user_1", instance=store.instance)
        assert again is not None and again["status"] == "pending"
        assert drain(pg_settings, store)
        stats = statistics(store.engine, instance=store.instance)
        assert stats["delivered"] == len(rows) and stats["success_rate"] == 1.0
    finally:
        store.close()
