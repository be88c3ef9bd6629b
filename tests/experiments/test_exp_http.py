"""The experiment routes, on the real FastAPI app in-process (the shared experiment Scheduler
behind it): bad bodies are 422 naming the field with nothing stored, another user's experiment
is a 404, everyone's traffic needs an admin token, and /openapi.json documents it all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from arms import two_arms
from fastapi.testclient import TestClient

import videoai_ray as vai
from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter

BASE = "/api/v1/media"


@pytest.fixture(scope="module")
def http(exp_client: vai.Client) -> Iterator[TestClient]:
    settings = exp_client.settings
    ctx = ApiContext.start(settings, exp_client.scheduler, MemoryRateLimiter())
    with TestClient(create_app(ctx)) as client:
        yield client


def auth(exp_client: vai.Client, user: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(exp_client.settings, user, admin=admin)}"}


def error(r: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = r.json()["error"]
    return err


@pytest.mark.parametrize(("body", "field"), [
    (two_arms(arms=[{"provider": "fast", "weight": 1}, {"provider": "nope", "weight": 1}]), "arms[1].provider"),
    (two_arms(arms=[{"provider": "fast", "weight": 0}, {"provider": "half", "weight": 0}]), "arms"),
    (two_arms(arms=[{"provider": "fast", "weight": -2}, {"provider": "half"}]), "arms[0].weight"),
    (two_arms(task_type="nope"), "task_type"),
    (two_arms(arms=[{"provider": "subs"}, {"provider": "fast"}]), "arms[0].provider"),
    ({"name": "x"}, "task_type"),
    ([1, 2], "body"),
])
def test_bad_bodies_are_422_naming_the_field(http: TestClient, exp_client: vai.Client, body: Any,
                                              field: str) -> None:
    h = auth(exp_client, "http-bad")
    r = http.post(f"{BASE}/experiments", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert error(r)["field"] == field
    assert http.get(f"{BASE}/experiments", headers=h).json()["count"] == 0


def test_routes_and_isolation(http: TestClient, exp_client: vai.Client) -> None:
    dora, eve = auth(exp_client, "http-dora"), auth(exp_client, "http-eve")
    r = http.post(f"{BASE}/experiments", json=two_arms(), headers=dora)
    assert r.status_code == 201, r.text
    exp = r.json()
    assert exp["status"] == "running" and exp["user_id"] == "http-dora" and exp["baseline"] == "fast"
    assert r.headers["location"] == f"{BASE}/experiments/{exp['id']}"
    task = http.post(f"{BASE}/images/generate?wait=30", json={"prompt": "over http"}, headers=dora).json()
    assert task["experiment_id"] == exp["id"] and task["provider"] == task["experiment_arm"]
    pinned = http.post(f"{BASE}/images/generate", json={"prompt": "pinned", "provider": "noop"}, headers=dora).json()
    assert pinned["experiment_id"] is None
    listed = http.get(f"{BASE}/experiments", headers=dora).json()
    assert [e["id"] for e in listed["experiments"]] == [exp["id"]]
    report = http.get(f"{BASE}/experiments/{exp['id']}", headers=dora)
    assert report.status_code == 200
    assert report.json()["tasks"] == 1 and len(report.json()["comparisons"]) == 1
    for method, path in (("GET", ""), ("POST", "/stop")):
        r = http.request(method, f"{BASE}/experiments/{exp['id']}{path}", headers=eve)
        assert r.status_code == 404 and error(r)["code"] == "experiment_not_found"
    assert http.get(f"{BASE}/experiments", headers=eve).json()["count"] == 0
    assert http.get(f"{BASE}/experiments/exp_nope", headers=dora).status_code == 404
    stopped = http.post(f"{BASE}/experiments/{exp['id']}/stop", headers=dora)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert http.post(f"{BASE}/experiments/{exp['id']}/stop", headers=dora).json()["stopped_at"] == \
        stopped.json()["stopped_at"]  # stopping again changes nothing
    assert http.get(f"{BASE}/experiments").status_code == 401


def test_other_users_traffic_needs_an_admin_token(http: TestClient, exp_client: vai.Client) -> None:
    plain, admin = auth(exp_client, "http-plain"), auth(exp_client, "http-root", admin=True)
    for extra, field in (({"all_users": True}, "all_users"), ({"user_id": "someone"}, "user_id")):
        r = http.post(f"{BASE}/experiments", json=two_arms(task_type="audio_transcription", **extra), headers=plain)
        assert r.status_code == 403 and error(r)["field"] == field
    assert http.get(f"{BASE}/experiments", headers=plain).json()["count"] == 0
    r = http.post(f"{BASE}/experiments", json=two_arms(task_type="audio_transcription", user_id="someone"),
                  headers=admin)
    assert r.status_code == 201 and r.json()["user_id"] == "someone"
    http.post(f"{BASE}/experiments/{r.json()['id']}/stop", headers=admin)


def test_openapi_documents_the_routes(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    paths = doc["paths"]
    assert {"post", "get"} <= set(paths[f"{BASE}/experiments"])
    assert "get" in paths[f"{BASE}/experiments/{{experiment_id}}"]
    assert "post" in paths[f"{BASE}/experiments/{{experiment_id}}/stop"]
    body = paths[f"{BASE}/experiments"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ExperimentSpec"}
    schemas = doc["components"]["schemas"]
    assert {"ExperimentSpec", "ArmSpec", "ExperimentReport", "ArmReport", "Comparison"} <= set(schemas)
    assert "experiment_arm" in schemas["TaskResponse"]["properties"]
