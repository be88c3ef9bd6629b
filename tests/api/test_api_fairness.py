"""Fair sharing over HTTP: the token's ``weight`` and ``max_in_flight`` claims reach the Scheduler
with the caller's tasks, the cap holds, and ``GET /statistics`` shows the caller's own numbers
(and nothing that names another user)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import jwt
from served_api import Api, noop, unique

FAIR_KEYS = {"enabled", "queued", "queued_by_priority", "in_flight", "weight", "max_in_flight", "at_cap", "tenant"}


def _slow(**kw: Any) -> dict[str, Any]:
    return {"prompt": unique("fair"), "provider": "slow", "use_cache": False, **kw}


def _max_overlap(tasks: list[dict[str, Any]]) -> int:
    edges = []
    for t in tasks:
        edges += [(datetime.fromisoformat(t["started_at"]), 1), (datetime.fromisoformat(t["finished_at"]), -1)]
    running = peak = 0
    for _, step in sorted(edges):  # an end before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def test_weight_and_cap_come_from_the_token(api: Api) -> None:
    user = unique("weighted")
    c = api.client(user, weight=3, max_in_flight=2)
    ids = [c.post("/images/generate", json=_slow()).json()["id"] for _ in range(5)]
    share = c.get("/statistics").json()["fair_share"]
    assert set(share) == FAIR_KEYS
    assert share["enabled"] is True and share["weight"] == 3.0 and share["max_in_flight"] == 2
    assert share["in_flight"] <= 2
    deadline = time.monotonic() + 60
    while not all((t := c.get(f"/tasks/{i}").json())["status"] == "completed" for i in ids):
        assert time.monotonic() < deadline, t
        time.sleep(0.1)
    tasks = [c.get(f"/tasks/{i}").json() for i in ids]
    assert _max_overlap(tasks) <= 2  # the provider runs four at once; this caller may use two
    after = c.get("/statistics").json()["fair_share"]
    assert after["queued"] == 0 and after["in_flight"] == 0 and after["at_cap"] is False


def test_without_claims_the_deployment_defaults_apply_and_no_other_user_shows(api: Api) -> None:
    other = api.client(unique("other"), weight=50)
    other.post("/images/generate", json=noop())
    c = api.client(unique("plain"))
    c.post("/images/generate", params={"wait": 10}, json=noop())
    body = c.get("/statistics")
    share = body.json()["fair_share"]
    assert share["weight"] == 1.0 and share["max_in_flight"] is None and share["queued"] == 0
    assert "other-" not in body.text


def test_claims_that_are_not_numbers_count_as_absent(api: Api) -> None:
    user = unique("oddclaims")
    now = int(time.time())
    token = jwt.encode({"sub": user, "iss": api.settings.jwt_issuer, "iat": now, "exp": now + 600,
                        "weight": "lots", "max_in_flight": -3},
                       api.settings.jwt_secret.get_secret_value(), algorithm="HS256")
    c = api.client(token=token)
    assert c.post("/images/generate", params={"wait": 10}, json=noop()).status_code == 200
    share = c.get("/statistics").json()["fair_share"]
    assert share["weight"] == 1.0 and share["max_in_flight"] is None


def test_openapi_documents_the_fair_share_view(api: Api) -> None:
    schemas = api.root().get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["FairShareView"]["properties"]) == FAIR_KEYS
    assert "fair_share" in schemas["Statistics"]["properties"]
