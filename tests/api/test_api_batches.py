"""``GET /batches``, ``GET /batches/{id}``, ``GET``/``PUT /budget``, ``GET /spend`` and the batch
budget of ``POST /batch``: per user, and bad input answers 4xx naming the field."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from served_api import Api, error_of, noop, unique


def item(provider: str = "noop", prompt: str = "x") -> dict:
    return {"task_type": "image_generation", "input_data": {**noop(prompt), "provider": provider}}


def wait_until(c: httpx.Client, batch_id: str, done: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get(f"/batches/{batch_id}").json()
        finished = sum(n for s, n in body["counts"].items() if s in ("completed", "failed", "cancelled"))
        if finished >= done or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_batches_are_listed_per_user_and_another_users_id_is_404(api: Api) -> None:
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    r = alice.post("/batch", json=[item(prompt=f"p{i}") for i in range(3)])
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    body = wait_until(alice, batch_id, 3)
    assert (body["id"], body["expected"], body["submitted"], body["missing"]) == (batch_id, 3, 3, 0)
    assert body["counts"] == {"completed": 3} and body["sealed_at"] and body["cost_usd"] == 0.0
    listed = alice.get("/batches").json()
    assert listed["count"] == 1 and listed["batches"][0]["id"] == batch_id
    assert bob.get("/batches").json() == {"batches": [], "count": 0}
    for other in (bob.get(f"/batches/{batch_id}"), alice.get("/batches/batch_unknown")):
        assert other.status_code == 404 and error_of(other)["code"] == "batch_not_found"


def test_a_replayed_batch_lists_one_batch(api: Api) -> None:
    c = api.client(unique("u"))
    first = c.post("/batch", json=[item()], headers={"Idempotency-Key": "k1"})
    again = c.post("/batch", json=[item()], headers={"Idempotency-Key": "k1"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert [b["id"] for b in c.get("/batches").json()["batches"]] == [first.json()["batch_id"]]


def test_a_batch_budget_stops_its_spending_and_spend_is_reported(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/batch", params={"budget_usd": "1.0"}, json=[item("priced", f"p{i}") for i in range(6)])
    assert r.status_code == 202, r.text
    body = wait_until(c, r.json()["batch_id"], 6)
    assert body["budget_usd"] == 1.0 and body["counts"] == {"completed": 4, "failed": 2}
    assert body["cost_usd"] == 1.0
    failed = c.get("/tasks", params={"batch_id": body["id"], "status": "failed"}).json()["tasks"]
    assert {t["error"]["code"] for t in failed} == {"budget_exceeded"}
    assert all("$1.0000" in t["error"]["message"] and body["id"] in t["error"]["message"] for t in failed)
    spend = c.get("/spend").json()
    today = datetime.now(UTC).date().isoformat()
    assert spend["spend"] == [{"day": today, "provider": "priced", "tasks": 4, "cost_usd": 1.0}]
    assert spend["total_usd"] == 1.0 and spend["days"] == 30


def test_a_users_own_daily_budget(api: Api) -> None:
    c = api.client(unique("u"))
    assert c.get("/budget").json() == {"budget_usd": None, "deployment_cap_usd": None, "effective_usd": None,
                                       "spent_today_usd": 0.0}
    r = c.put("/budget", json={"budget_usd": 0.5})
    assert r.status_code == 200 and r.json()["effective_usd"] == 0.5
    r = c.post("/batch", json=[item("priced", f"p{i}") for i in range(3)])
    body = wait_until(c, r.json()["batch_id"], 3)
    assert body["counts"] == {"completed": 2, "failed": 1}
    [failed] = c.get("/tasks", params={"status": "failed"}).json()["tasks"]
    assert failed["error"]["code"] == "budget_exceeded" and "daily budget of user" in failed["error"]["message"]
    assert c.get("/budget").json()["spent_today_usd"] == 0.5
    assert c.put("/budget", json={"budget_usd": None}).json()["budget_usd"] is None


def test_bad_budgets_and_queries_answer_422_naming_the_field(api: Api) -> None:
    c = api.client(unique("u"))
    for value in ("0", "-1", "nan", "inf", "abc", "2e9"):
        r = c.post("/batch", params={"budget_usd": value}, json=[item()])
        assert r.status_code == 422 and error_of(r)["field"] == "budget_usd", (value, r.text)
    assert c.get("/batches").json()["count"] == 0, "a refused batch stores nothing"
    for body in ({"budget_usd": 0}, {"budget_usd": -3}, {"budget_usd": "x"}, {}, {"budget_usd": 1, "extra": 1}):
        r = c.put("/budget", json=body)
        assert r.status_code == 422, (body, r.text)
        assert error_of(r)["field"] in ("budget_usd", "extra"), r.text
    # the SDK's rule (tests/sdk/test_sdk_batches.py refuses the same): over the cap, infinite
    # (1e999 parses as inf), a number as a string, a boolean
    for raw in (b'{"budget_usd": 2e9}', b'{"budget_usd": 1e999}', b'{"budget_usd": -1e999}',
                b'{"budget_usd": "5"}', b'{"budget_usd": true}'):
        r = c.put("/budget", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and error_of(r)["field"] == "budget_usd", (raw, r.text)
        assert "above 0 (at most 1e+09)" in error_of(r)["message"], r.text
    r = c.put("/budget", content=b'{"budget_usd": NaN}', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and error_of(r)["field"] == "body", "NaN is not JSON: the body is refused"
    assert c.get("/budget").json()["budget_usd"] is None, "a refused budget sets nothing"
    assert c.put("/budget", json={"budget_usd": 1e9}).json()["budget_usd"] == 1e9, "the cap itself is accepted"
    for params in ({"days": 0}, {"days": 400}):
        r = c.get("/spend", params=params)
        assert r.status_code == 422 and error_of(r)["field"] == "days"
    r = c.get("/batches", params={"limit": 0})
    assert r.status_code == 422 and error_of(r)["field"] == "limit"
