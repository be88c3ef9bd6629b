"""Budgets, on SQLite and on PostgreSQL: a batch's budget and a user's own daily budget stop the
spending where they say (a priced fake provider that records every run), also across a restart
of the Scheduler; spend per day and provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import ray
from fault_driver import items

import videoai_ray as vai
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler, scheduler_name

PRICE = 0.1


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("priced-runs")


@pytest.fixture(scope="module")
def priced(ray_session: None, db_url: str | None, runs: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    backend = "pg" if db_url else "sqlite"
    settings = vai.Settings(home=tmp_path_factory.mktemp("budget-home"), instance=f"t-budget-{backend}",
                            database_url=db_url, prefetch=0, user_daily_budget_usd=100.0)
    kill_scheduler(settings)
    provider = FixedLatencyProvider(0.1, 3, name="priced", cost=PRICE, log_dir=runs)
    client = vai.connect(settings=settings, providers=[provider])
    yield client
    kill_scheduler(settings)


def as_user(client: vai.Client, user: str) -> vai.Client:
    return vai.Client(client.settings, client.scheduler, client.service.store, user_id=user)


def provider_runs(runs: Path, batch: vai.Batch) -> int:
    return sum(len(list(runs.glob(f"{tid}.*.done"))) for tid in batch.ids)


def test_a_batch_with_a_budget_stops_spending_at_the_budget(priced, runs) -> None:
    batch = priced.batch(items("budget", 25, "priced"), budget_usd=1.05)
    counts = batch.wait(timeout=60)
    assert counts == {"completed": 10, "failed": 15}
    assert provider_runs(runs, batch) == 10  # the provider never ran for the refused ones
    assert batch.cost() == pytest.approx(1.0)
    failed = [t for t in batch.results() if t.status.value == "failed"]
    assert all(t.error.code == "budget_exceeded" and t.attempts == 0 and t.started_at is None for t in failed)
    message = failed[0].error.message
    assert batch.id in message and "$1.0500" in message and "spent $" in message and "estimate $0.1000" in message
    row = priced.batches().loc[batch.id]
    assert row["cost_usd"] == pytest.approx(1.0) and row["budget_usd"] == 1.05 and row["failed"] == 15


def test_a_budget_holds_across_a_scheduler_restart(priced, runs) -> None:
    batch = priced.batch(items("budget-restart", 20, "priced"), budget_usd=0.55)
    deadline = time.monotonic() + 30
    while batch.counts().get("completed", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    ray.kill(ray.get_actor(scheduler_name(priced.settings), namespace=NAMESPACE), no_restart=False)
    assert batch.wait(timeout=90) == {"completed": 5, "failed": 15}
    assert provider_runs(runs, batch) == 5


def test_a_users_own_daily_budget_counts_what_they_spent_today(priced) -> None:
    frugal = as_user(priced, "frugal")
    assert frugal.batch(items("before", 2, "priced")).wait(timeout=60) == {"completed": 2}
    assert frugal.set_budget(0.45)["effective_usd"] == 0.45
    batch = frugal.batch(items("after", 5, "priced"))
    assert batch.wait(timeout=60) == {"completed": 2, "failed": 3}
    [message] = {t.error.message for t in batch.results() if t.error}
    assert "daily budget of user frugal of $0.4500" in message and "spent $0.2" in message
    assert frugal.budget() == {"budget_usd": 0.45, "deployment_cap_usd": 100.0, "effective_usd": 0.45,
                               "spent_today_usd": pytest.approx(0.4)}
    assert frugal.set_budget(500.0)["effective_usd"] == 100.0  # the deployment's cap stays the limit
    assert frugal.set_budget(None)["budget_usd"] is None
    assert as_user(priced, "frugal").batch(items("freed", 2, "priced")).wait(timeout=60) == {"completed": 2}
    spend = frugal.spend()
    assert list(spend.columns) == ["day", "provider", "tasks", "cost_usd"] and len(spend) == 1
    today = datetime.now(UTC).date()
    assert spend.loc[0, "day"].date() == today and spend.loc[0, "provider"] == "priced"
    assert (spend.loc[0, "tasks"], spend.loc[0, "cost_usd"]) == (6, pytest.approx(0.6))
    assert as_user(priced, "nobody").spend().empty
