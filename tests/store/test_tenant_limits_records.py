"""Tenants' limits as stored and read (docs/tenants.md): what ``parse_limits`` accepts and refuses
(naming the field, nothing stored), set and patched through the service on SQLite and
PostgreSQL, read through the directory's cache, counted per tenant (spend, schedules,
experiments), and the CLI."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.cli import main
from videoai_ray.errors import InvalidRequest, TenantNotFound
from videoai_ray.experiments.models import ArmSpec, Experiment
from videoai_ray.models import TaskType
from videoai_ray.store import TaskStore, utcnow
from videoai_ray.store.budgets import month_start, spent
from videoai_ray.store.experiments import TenantOverCap, insert_experiment
from videoai_ray.store.schema import tasks
from videoai_ray.tenants.limit_spec import LIMIT_FIELDS, parse_limits
from videoai_ray.tenants.service import TenantService


def test_limits_are_parsed_to_the_ones_that_bind() -> None:
    assert parse_limits({}) == {}
    body = {"daily_budget_usd": 5, "monthly_budget_usd": 100.5, "rpm": 60.0, "max_in_flight": 4,
            "max_schedules": 0, "max_experiments": 5, "weight": 2}
    assert parse_limits(body) == {"daily_budget_usd": 5.0, "monthly_budget_usd": 100.5, "rpm": 60,
                                  "max_in_flight": 4, "max_schedules": 0, "max_experiments": 5, "weight": 2.0}
    assert parse_limits({"rpm": None, "weight": 0.5}) == {"weight": 0.5}  # null: does not bind


@pytest.mark.parametrize(("body", "field"), [
    ({"daily_budget_usd": -1}, "daily_budget_usd"),
    ({"monthly_budget_usd": -0.01}, "monthly_budget_usd"),
    ({"daily_budget_usd": math.nan}, "daily_budget_usd"),
    ({"monthly_budget_usd": math.inf}, "monthly_budget_usd"),
    ({"daily_budget_usd": -math.inf}, "daily_budget_usd"),
    ({"rpm": 0}, "rpm"),
    ({"rpm": -5}, "rpm"),
    ({"rpm": 1.5}, "rpm"),
    ({"rpm": "60"}, "rpm"),
    ({"rpm": True}, "rpm"),
    ({"max_in_flight": 0}, "max_in_flight"),
    ({"max_in_flight": math.inf}, "max_in_flight"),
    ({"max_schedules": -1}, "max_schedules"),
    ({"max_experiments": -3}, "max_experiments"),
    ({"weight": 0}, "weight"),
    ({"weight": -2}, "weight"),
    ({"weight": math.nan}, "weight"),
    ({"weight": 10_000}, "weight"),
    ({"rpm": 10, "burst": 3}, "burst"),
    ({"daily_budget_usd": {"usd": 1}}, "daily_budget_usd"),
    (["rpm", 1], "body"),
])
def test_bad_limits_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_limits(body)
    assert e.value.field == field


def test_limits_set_patched_and_refused_on_both_back_ends(any_store: TaskStore) -> None:
    tenants = TenantService(any_store.engine, any_store.instance, cache_seconds=0)
    tenants.create({"id": "acme"})
    assert tenants.get("acme")["limits"] is None
    row = tenants.set_limits("acme", {"daily_budget_usd": 5, "rpm": 60, "weight": 2})
    assert row["limits"] == {"daily_budget_usd": 5.0, "rpm": 60, "weight": 2.0}
    row = tenants.update_limits("acme", {"rpm": None, "max_in_flight": 4})  # null removes one
    assert row["limits"] == {"daily_budget_usd": 5.0, "weight": 2.0, "max_in_flight": 4}
    for bad in ({"rpm": -1}, {"daily_budget_usd": math.nan}, {"weight": math.inf}):
        for change in (tenants.set_limits, tenants.update_limits):
            with pytest.raises(InvalidRequest) as e:
                change("acme", bad)
            assert e.value.field == next(iter(bad))
    assert tenants.get("acme")["limits"] == {"daily_budget_usd": 5.0, "weight": 2.0, "max_in_flight": 4}
    assert tenants.set_limits("acme", {})["limits"] is None  # every limit removed
    with pytest.raises(TenantNotFound):
        tenants.set_limits("nobody", {"rpm": 1})
    with pytest.raises(TenantNotFound):
        tenants.update_limits("nobody", {"rpm": 1})
    assert [t["id"] for t in tenants.list()] == ["acme"]  # nothing made by the refusals


def test_the_directory_keeps_limits_with_the_state(any_store: TaskStore) -> None:
    tenants = TenantService(any_store.engine, any_store.instance, cache_seconds=60)
    tenants.create({"id": "acme"})
    assert tenants.directory.limits("acme") == {} and tenants.directory.limits("nobody") == {}
    tenants.set_limits("acme", {"rpm": 5})
    assert tenants.directory.limits("acme") == {}  # kept for the TTL: a change shows once it expires
    assert tenants.directory.state("acme") == "active"
    fresh = TenantService(any_store.engine, any_store.instance, cache_seconds=60).directory
    assert fresh.cached_limits("acme") is not None and fresh.limits("acme") == {"rpm": 5}
    assert fresh.cached("acme") == "active"  # read together with the limits


def test_spend_and_experiments_are_counted_per_tenant(any_store: TaskStore) -> None:
    engine, now = any_store.engine, utcnow()
    rows = [("acme/ana", 0.5, now), ("acme/bo", 0.25, now), ("acme/bo", 1.0, now - timedelta(days=40)),
            ("acmex/ana", 9.0, now), ("acme", 7.0, now), ("globex/ana", 3.0, now)]
    with engine.begin() as conn:
        for i, (owner, cost, when) in enumerate(rows):
            conn.execute(tasks.insert().values(
                id=f"spend-{i}", instance=any_store.instance, type="image_generation", status="completed",
                priority="medium", user_id=owner, input={}, meta={}, options={}, cost=cost, created_at=when,
                finished_at=when))
    assert spent(engine, owner_prefix="acme/", since=month_start(now) - timedelta(days=1)) == pytest.approx(0.75)
    assert spent(engine, owner_prefix="acme/") == pytest.approx(1.75)

    def exp(owner: str, n: int) -> Experiment:
        return Experiment(id=f"exp-{owner.replace('/', '-')}-{n}", owner_id=owner, name="x",
                          task_type=TaskType.IMAGE_GENERATION, arms=[ArmSpec(provider="noop", weight=1)],
                          baseline="noop", user_id=owner, metadata={}, created_at=now)

    inst = any_store.instance
    assert insert_experiment(engine, exp("acme/ana", 1), 5, instance=inst, tenant_max=("acme/", 2)) is None
    assert insert_experiment(engine, exp("acme/bo", 1), 5, instance=inst, tenant_max=("acme/", 2)) is None
    refused = insert_experiment(engine, exp("acme/bo", 2), 5, instance=inst, tenant_max=("acme/", 2))
    assert refused == TenantOverCap(2, 2)
    assert insert_experiment(engine, exp("globex/cy", 1), 5, instance=inst, tenant_max=("globex/", 1)) is None
    assert insert_experiment(engine, exp("acme/ana", 3), 1, instance=inst, tenant_max=("acme/", 9)) == 1


def test_the_cli_sets_shows_and_refuses_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path))
    for name in ("DATABASE_URL", "VIDEOAI_DATABASE_URL", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert main(["tenant", "create", "acme"]) == 0
    capsys.readouterr()
    assert main(["tenant", "limits", "acme", "--daily-budget", "5", "--monthly-budget", "100", "--rpm", "60",
                 "--max-in-flight", "4", "--max-schedules", "10", "--max-experiments", "5", "--weight", "2"]) == 0
    assert '"rpm": 60' in capsys.readouterr().out
    assert main(["tenant", "limits", "acme", "--rpm", "none", "--weight", "3"]) == 0  # the others stay
    out = capsys.readouterr().out
    assert '"rpm"' not in out and '"weight": 3.0' in out and '"daily_budget_usd": 5.0' in out
    for option, value, field in (("--daily-budget", "-1", "daily_budget_usd"), ("--rpm", "nan", "rpm"),
                                 ("--monthly-budget", "inf", "monthly_budget_usd"),
                                 ("--max-in-flight", "1.5", "max_in_flight"), ("--weight", "0", "weight")):
        assert main(["tenant", "limits", "acme", option, value]) == 2
        assert capsys.readouterr().err.startswith(f"error: {field}:")
    assert main(["tenant", "limits", "acme"]) == 0  # shows them: nothing was changed by the refusals
    shown = capsys.readouterr().out
    assert '"weight": 3.0' in shown and '"max_in_flight": 4' in shown
    assert main(["tenant", "limits", "acme", "--clear", "--rpm", "7"]) == 0
    assert '"limits": {\n    "rpm": 7\n  }' in capsys.readouterr().out
    assert main(["tenant", "limits", "nobody", "--rpm", "1"]) == 2
    assert set(LIMIT_FIELDS) == {"daily_budget_usd", "monthly_budget_usd", "rpm", "max_in_flight", "max_schedules",
                                 "max_experiments", "weight"}
