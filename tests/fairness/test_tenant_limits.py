"""Tenants' limits on a real Scheduler (local Ray, SQLite): one tenant's cap of attempts in flight
and its daily budget bind all of its users together, while another tenant's users, on the same
providers at the same time, are not held by them (docs/tenants.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from videoai_ray.client import Client, connect
from videoai_ray.errors import BudgetExceeded
from videoai_ray.models import TaskStatus
from videoai_ray.providers.testing import FixedLatencyProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings

SLOW, PRICED = "tl-slow", "tl-priced"


@dataclass
class Deployment:
    clients: dict[str, Client]

    def __getitem__(self, owner: str) -> Client:
        return self.clients[owner]


@pytest.fixture(scope="module")
def deployment(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Tenants ``acme`` (at most 2 attempts in flight, $1.00 a day) and ``globex`` (no limits),
    stored before the Scheduler starts: their limits bind from its first dispatch on."""
    settings = Settings(home=Path(tmp_path_factory.mktemp("tenant-limits")), instance="t-tenant-limits",
                        cache_enabled=False, database_url=None, redis_url=None, tenant_cache_seconds=0.5)
    kill_scheduler(settings)
    tenants = MediaService(settings, None, migrate=True).tenants
    tenants.create({"id": "acme"})
    tenants.create({"id": "globex"})
    tenants.set_limits("acme", {"max_in_flight": 2, "daily_budget_usd": 1.0})
    providers = [FixedLatencyProvider(1.0, 16, name=SLOW), FixedLatencyProvider(0.01, 4, name=PRICED, cost=0.4)]
    first = connect(settings=settings, providers=providers, user_id="acme/ana")
    clients = {"acme/ana": first, **{u: connect(settings=settings, user_id=u) for u in ("acme/bo", "globex/cy")}}
    yield Deployment(clients)
    kill_scheduler(settings)


def _max_overlap(spans: list[tuple[datetime, datetime]]) -> int:
    """The most spans running at one start (a span runs from its start until its end)."""
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_a_tenants_in_flight_cap_binds_its_users_together_not_another_tenant(deployment: Deployment) -> None:
    body = {"provider": SLOW, "use_cache": False}
    futures = {owner: [deployment[owner].images.generate(prompt=f"{owner} {i}", **body) for i in range(n)]
               for owner, n in (("acme/ana", 3), ("acme/bo", 3), ("globex/cy", 4))}
    # a user of acme whose tasks wait sees why: the tenant is at its cap (its own statistics)
    deadline = time.monotonic() + 60
    while not ((share := deployment["acme/bo"].statistics().fair_share or {}).get("tenant") or {}).get("at_cap"):
        assert time.monotonic() < deadline, share
        time.sleep(0.05)
    assert share["tenant"] == {"id": "acme", "in_flight": 2, "weight": 1.0, "max_in_flight": 2, "at_cap": True}
    other = deployment["globex/cy"].statistics().fair_share or {}
    assert other["tenant"]["id"] == "globex" and other["tenant"]["max_in_flight"] is None
    assert other["tenant"]["at_cap"] is False
    done = {owner: [f.result(timeout=120) for f in fs] for owner, fs in futures.items()}
    acme = [(t.started_at, t.finished_at) for t in done["acme/ana"] + done["acme/bo"]]
    globex = [(t.started_at, t.finished_at) for t in done["globex/cy"]]
    assert all(s is not None and e is not None for s, e in acme + globex)
    # the two users of acme never had more than two attempts running together
    assert _max_overlap(acme) <= 2, sorted(acme)  # type: ignore[arg-type]
    # globex's four (submitted together, on a provider that runs sixteen at once) were not held to it
    assert _max_overlap(globex) >= 3, sorted(globex)  # type: ignore[arg-type]


def test_a_tenants_daily_budget_counts_all_of_its_users_not_another_tenant(deployment: Deployment) -> None:
    body = {"provider": PRICED, "use_cache": False}
    for i in range(2):  # one after the other: $0.80 of acme's $1.00
        assert deployment["acme/ana"].images.generate(prompt=f"paid {i}", **body).result(timeout=60).cost == 0.4
    bo = deployment["acme/bo"].images.generate(prompt="one more", **body).wait(timeout=60)
    assert bo.status is TaskStatus.FAILED and bo.error is not None
    assert bo.error.code == BudgetExceeded.code, bo.error  # the same code as a user's own budget
    assert "daily budget of tenant acme" in bo.error.message
    # the other tenant spends more than acme's budget, unhindered
    for i in range(3):
        cy = deployment["globex/cy"].images.generate(prompt=f"globex {i}", **body).wait(timeout=60)
        assert cy.status is TaskStatus.COMPLETED, cy.error
