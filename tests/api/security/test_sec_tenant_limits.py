"""A tenant's limits over HTTP (docs/tenants.md): only an operator sets them (every other token gets
403 and nothing is stored); bad values are a 422 naming the field, nothing stored; and the
limits the door and the schedule/experiment counts apply bind all of a tenant's users together
while another tenant's users are not touched: ``rpm`` (429), ``max_schedules`` and
``max_experiments`` (409 ``quota_exceeded``)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from served_api import ADMIN_TENANTS as ADMIN
from served_api import Api, error_of, eventually, new_tenant, noop, operator_client


def test_an_operator_sets_and_changes_limits(api: Api) -> None:
    tenant, ops = new_tenant(api, "lim"), operator_client(api)
    r = ops.put(f"{ADMIN}/{tenant}/limits", json={"daily_budget_usd": 5, "monthly_budget_usd": 100, "rpm": 60,
                                                  "max_in_flight": 4, "max_schedules": 10, "max_experiments": 5,
                                                  "weight": 2})
    assert r.status_code == 200, r.text
    assert r.json()["limits"] == {"daily_budget_usd": 5.0, "monthly_budget_usd": 100.0, "rpm": 60,
                                  "max_in_flight": 4, "max_schedules": 10, "max_experiments": 5, "weight": 2.0}
    r = ops.patch(f"{ADMIN}/{tenant}/limits", json={"rpm": None, "weight": 0.5})
    assert r.status_code == 200, r.text
    assert "rpm" not in r.json()["limits"] and r.json()["limits"]["weight"] == 0.5
    assert ops.get(f"{ADMIN}/{tenant}").json()["limits"] == r.json()["limits"]
    assert ops.put(f"{ADMIN}/{tenant}/limits", json={}).json()["limits"] is None
    assert ops.put(f"{ADMIN}/nobody-{uuid.uuid4().hex[:6]}/limits", json={"rpm": 1}).status_code == 404


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"daily_budget_usd": -1}', "daily_budget_usd"),
    (b'{"monthly_budget_usd": 1e400}', "monthly_budget_usd"),  # JSON's way to infinity
    (b'{"daily_budget_usd": -1e400}', "daily_budget_usd"),
    (b'{"rpm": NaN}', "body"),  # not JSON at all
    (b'{"rpm": Infinity}', "body"),
    (b'{"rpm": 0}', "rpm"),
    (b'{"rpm": 2.5}', "rpm"),
    (b'{"max_in_flight": -4}', "max_in_flight"),
    (b'{"max_schedules": -1}', "max_schedules"),
    (b'{"max_experiments": "5"}', "max_experiments"),
    (b'{"weight": 0}', "weight"),
    (b'{"weight": 1e400}', "weight"),
    (b'{"rpm": 5, "tenant": "other"}', "tenant"),
    (b'[{"rpm": 5}]', "body"),
    (b'', "body"),
])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_limits_are_refused_naming_the_field_and_nothing_is_stored(api: Api, raw: bytes, field: str,
                                                                        method: str) -> None:
    tenant, ops = new_tenant(api, "badlim"), operator_client(api)
    assert ops.put(f"{ADMIN}/{tenant}/limits", json={"rpm": 100}).status_code == 200
    r = ops.request(method, f"{ADMIN}/{tenant}/limits", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert error_of(r)["field"] == field
    assert ops.get(f"{ADMIN}/{tenant}").json()["limits"] == {"rpm": 100}


def test_only_an_operator_sets_limits(api: Api) -> None:
    tenant = new_tenant(api, "opslim")
    tokens = {"tenant user": api.token("ana", tenant=tenant),
              "tenant admin": api.token("boss", tenant=tenant, tenant_admin=True),
              "deployment admin": api.token("root", admin=True), "plain user": api.token("ana")}
    for who, token in tokens.items():
        c = api.root()
        c.headers["Authorization"] = f"Bearer {token}"
        for method in ("PUT", "PATCH"):
            r = c.request(method, f"{ADMIN}/{tenant}/limits", json={"rpm": 1000000})
            assert r.status_code == 403, (who, method, r.text)
    anonymous = api.root().put(f"{ADMIN}/{tenant}/limits", json={"rpm": 1})
    assert anonymous.status_code == 401
    assert operator_client(api).get(f"{ADMIN}/{tenant}").json()["limits"] is None


def test_a_tenants_rpm_counts_all_of_its_users_and_not_another_tenant(api: Api) -> None:
    acme, globex = new_tenant(api, "rpm-a"), new_tenant(api, "rpm-b")
    assert operator_client(api).put(f"{ADMIN}/{acme}/limits", json={"rpm": 3}).status_code == 200
    ana, bo = api.client("ana", tenant=acme), api.client("bo", tenant=acme)
    cy = api.client("cy", tenant=globex)
    # within tenant_cache_seconds every replica knows the limit; from then on, ana and bo together
    # get 429 once the tenant's window is full (each replica's own window without Redis: sooner or
    # later all the same)
    refused: list[httpx.Response] = []

    def limited() -> bool:
        for c in (ana, bo):
            r = c.get("/tasks")
            if r.status_code == 429:
                refused.append(r)
                return True
            assert r.status_code == 200, r.text
        return False

    eventually(limited, 30)
    body = error_of(refused[0])
    assert body["code"] == "rate_limited" and body["field"] == "tenant" and acme in body["message"]
    assert int(refused[0].headers["Retry-After"]) >= 1
    for _ in range(10):  # the other tenant's user is not held by acme's limit
        assert cy.get("/tasks").status_code == 200


def test_a_tenants_schedule_and_experiment_counts_bind_its_users_together(api: Api) -> None:
    acme, globex = new_tenant(api, "cnt-a"), new_tenant(api, "cnt-b")
    ops = operator_client(api)
    assert ops.put(f"{ADMIN}/{acme}/limits", json={"max_schedules": 1, "max_experiments": 1}).status_code == 200
    time.sleep(api.settings.tenant_cache_seconds + 0.5)  # the caches that read the limits (API, Scheduler)
    ana, bo, cy = (api.client("ana", tenant=acme), api.client("bo", tenant=acme),
                   api.client("cy", tenant=globex))
    schedule = {"cron": "0 9 * * *", "target": {"task": {"task_type": "image_generation", "input_data": noop()}}}
    experiment = {"name": "x", "task_type": "image_generation",
                  "arms": [{"provider": "noop", "weight": 1}, {"provider": "slow", "weight": 1}]}
    first = ana.post("/schedules", json=schedule)
    assert first.status_code == 201, first.text
    r = bo.post("/schedules", json=schedule)
    assert r.status_code == 409 and error_of(r)["code"] == "quota_exceeded" and acme in r.text, r.text
    assert bo.get("/schedules").json()["schedules"] == []  # nothing stored
    for _ in range(2):
        assert cy.post("/schedules", json=schedule).status_code == 201  # another tenant: not counted
    exp = ana.post("/experiments", json=experiment)
    assert exp.status_code == 201, exp.text
    r = bo.post("/experiments", json=experiment)
    assert r.status_code == 409 and error_of(r)["code"] == "quota_exceeded" and acme in r.text, r.text
    assert bo.get("/experiments").json()["experiments"] == []
    cy_exp = cy.post("/experiments", json=experiment)
    assert cy_exp.status_code == 201
    # one deleted (stopped): room for another of the tenant's users
    assert ana.delete(f"/schedules/{first.json()['id']}").status_code in (200, 204)
    assert bo.post("/schedules", json=schedule).status_code == 201
    assert ana.post(f"/experiments/{exp.json()['id']}/stop").status_code == 200
    assert bo.post("/experiments", json=experiment).status_code == 201
    for c in (bo, cy):  # leave nothing running for the session's other tests
        for e in c.get("/experiments").json()["experiments"]:
            c.post(f"/experiments/{e['id']}/stop")
        for s in c.get("/schedules").json()["schedules"]:
            c.delete(f"/schedules/{s['id']}")
