"""Store outages at the level of the Scheduler's parts, without Ray, over a real SQLite store: a
full disk (SQLite's own ``SQLITE_FULL``, from ``PRAGMA max_page_count``) is logged once as disk
full, its writes wait and go out when space returns; a full disk met by an attempt is retried and
does not open the provider's circuit breaker; a store outage seen by many calls is one log line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import event, text
from test_intake import Parts

from videoai_ray.models import TaskStatus
from videoai_ray.protocol import AttemptResult
from videoai_ray.providers.registry import ProviderRegistry
from videoai_ray.providers.testing import NoopProvider
from videoai_ray.scheduler.outage import StoreWatch
from videoai_ray.settings import Settings


def running(parts: Parts, prompt: str, provider: str = "noop") -> str:
    [answer] = parts.submit([parts.item(prompt)])
    tid = answer["id"]
    act = parts.state.active[tid]
    parts.state.unqueue(act)
    act.status, act.attempts, act.provider = TaskStatus.PROCESSING, 1, provider
    parts.dispatcher.adopt_attempt(tid, 1, provider)
    return tid


def test_a_full_disk_is_logged_once_as_disk_full_and_its_writes_wait_for_space(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    parts = Parts(settings)
    tid = running(parts, "a crane")
    engine = parts.state.store.engine
    cap: dict[str, int | None] = {"pages": None}

    @event.listens_for(engine, "connect")
    def _limit(conn: Any, _record: Any) -> None:
        if cap["pages"]:
            conn.execute(f"PRAGMA max_page_count={cap['pages']}")

    with engine.connect() as conn:
        cap["pages"] = int(conn.execute(text("PRAGMA page_count")).scalar() or 0) + 1
    engine.dispose()  # every connection from now on meets a full "disk"
    parts.outcomes.finish(parts.state.active[tid], TaskStatus.COMPLETED, output={"blob": "x" * 300_000})

    async def run() -> None:
        parts.writer.start()
        await parts.writer.flush()
        assert parts.state.watch.status == "disk_full"
        for _ in range(3):  # tried again with backoff: no new line
            await asyncio.sleep(0.5)
            await parts.writer.flush()
        assert parts.state.watch.status == "disk_full" and parts.writer.pending
        cap["pages"] = None
        engine.dispose()  # space is back: the next try (after its backoff) writes everything
        for _ in range(100):
            await asyncio.sleep(0.1)
            await parts.writer.flush()
            if not parts.writer.pending:
                break
        assert parts.state.watch.ok and not parts.writer.pending

    with caplog.at_level(logging.INFO, logger="videoai.scheduler"):
        asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records if r.name == "videoai.scheduler" and r.levelno >= logging.WARNING]
    assert len(lines) == 2, lines
    assert "disk full" in lines[0] and "cannot be reached" not in lines[0]
    assert "back" in lines[1]
    stored = parts.state.store.get(tid)
    assert stored is not None and stored.status is TaskStatus.COMPLETED


@pytest.mark.parametrize(("code", "opens"), [("disk_full", False), ("transient_error", True)])
def test_a_full_disk_met_by_an_attempt_is_retried_and_not_held_against_the_provider(
        settings: Settings, code: str, opens: bool) -> None:
    parts = Parts(settings)
    parts.state.registry = ProviderRegistry(breaker_failures=1, breaker_cooldown=60.0)
    parts.state.registry.register(NoopProvider())
    tid = running(parts, "a heron")
    parts.dispatcher.on_result(AttemptResult(tid, 1, False, error_code=code, error_message="no space left",
                                             retryable=True, provider="noop"))
    act = parts.state.active[tid]
    assert act.status is TaskStatus.RETRYING and parts.state.changes[tid]["error_code"] == code
    health = {p["name"]: p["health"] for p in parts.state.registry.describe()}["noop"]
    assert (health == "open_circuit") is opens


def test_an_outage_is_one_line_when_it_begins_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    watch = StoreWatch(timeout=5.0)
    from sqlalchemy.exc import OperationalError

    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    with caplog.at_level(logging.INFO, logger="videoai.scheduler"):
        watch.up()  # the first contact is not a recovery
        for _ in range(60):  # a minute of a loop trying every second
            assert watch.failed(refused, "due schedule ticks wait")
        watch.up()
        watch.up()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "cannot be reached" in lines[0] and "due schedule ticks wait" in lines[0]
    assert "back" in lines[1]
    assert not watch.failed(ValueError("a bad value"))  # not an outage: the caller logs it
