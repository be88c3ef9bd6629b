"""Per-user caps on schedules, in the SDK and over HTTP (the real FastAPI app in-process, on the
module's Scheduler): past ``user_max_schedules`` a create is refused (``QuotaExceeded``, 409
``quota_exceeded`` naming the setting) and nothing is stored; a paused schedule still counts, a
deleted one does not; a cron firing more often than ``schedule_min_interval_seconds`` is a 422
naming ``cron``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

import videoai_ray as vai
from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter

NOOP = {"prompt": "cap", "provider": "noop"}
#: daily at 03:00: nothing fires while the test runs
CRON = "0 3 * * *"
CAP = 3
BASE = "/api/v1/media"


@pytest.fixture(scope="module")
def capped(sched_client: vai.Client) -> vai.Settings:
    """The module Scheduler's settings, with a small cap and the default minimum interval (60 s)."""
    return sched_client.settings.model_copy(update={"user_max_schedules": CAP, "schedule_min_interval_seconds": 60.0})


def user_client(sched_client: vai.Client, settings: vai.Settings) -> vai.Client:
    return vai.Client(settings, sched_client.scheduler, sched_client.service.store, f"cap-{uuid.uuid4().hex[:8]}")


def test_the_sdk_refuses_a_schedule_past_the_cap_and_stores_nothing(sched_client: vai.Client,
                                                                     capped: vai.Settings) -> None:
    alice = user_client(sched_client, capped)
    made = [alice.schedule("image_generation", NOOP, cron=CRON, name=f"s{i}") for i in range(CAP)]
    with pytest.raises(vai.QuotaExceeded) as info:
        alice.schedule("image_generation", NOOP, cron=CRON, name="one too many")
    err = info.value
    assert err.code == "quota_exceeded" and err.limit == "VIDEOAI_USER_MAX_SCHEDULES" and err.maximum == CAP
    assert "VIDEOAI_USER_MAX_SCHEDULES" in err.message and f"={CAP}" in err.message
    assert len(alice.schedules()) == CAP, "nothing stored"
    # another user has a cap of their own
    assert user_client(sched_client, capped).schedule("image_generation", NOOP, cron=CRON).state == "active"
    made[0].pause()  # a paused schedule can fire again: it still counts
    with pytest.raises(vai.QuotaExceeded):
        alice.schedule("image_generation", NOOP, cron=CRON)
    made[0].delete()
    assert alice.schedule("image_generation", NOOP, cron=CRON).state == "active"
    assert len(alice.schedules()) == CAP


def test_concurrent_creates_cannot_pass_the_cap_together(sched_client: vai.Client, capped: vai.Settings) -> None:
    bob = user_client(sched_client, capped)

    def create(i: int) -> str:
        try:
            return bob.schedule("image_generation", NOOP, cron=CRON, name=f"c{i}").id
        except vai.QuotaExceeded:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    assert results.count("refused") == 8 - CAP
    assert len(bob.schedules()) == CAP


def test_the_sdk_refuses_a_cron_that_fires_too_often(sched_client: vai.Client, capped: vai.Settings) -> None:
    carol = user_client(sched_client, capped)
    with pytest.raises(vai.InvalidRequest) as info:
        carol.schedule("image_generation", NOOP, cron="*/10 * * * * *")
    assert info.value.field == "cron" and "VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS" in info.value.message
    assert len(carol.schedules()) == 0


@pytest.fixture(scope="module")
def http(sched_client: vai.Client, capped: vai.Settings) -> Iterator[TestClient]:
    ctx = ApiContext.start(capped, sched_client.scheduler, MemoryRateLimiter())
    with TestClient(create_app(ctx)) as client:
        yield client


def body(cron: str = CRON) -> dict[str, Any]:
    return {"cron": cron, "target": {"task": {"task_type": "image_generation", "input_data": NOOP}}}


def test_http_answers_409_past_the_cap_and_422_for_a_cron_too_often(http: TestClient, capped: vai.Settings) -> None:
    headers = {"Authorization": f"Bearer {create_token(capped, 'cap-' + uuid.uuid4().hex[:8])}"}
    r = http.post(f"{BASE}/schedules", json=body("* * * * * *"), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "cron"
    ids = []
    for _ in range(CAP):
        r = http.post(f"{BASE}/schedules", json=body(), headers=headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = http.post(f"{BASE}/schedules", json=body(), headers=headers)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "quota_exceeded" and "VIDEOAI_USER_MAX_SCHEDULES" in err["message"]
    assert err["errors"] == [{"limit": "VIDEOAI_USER_MAX_SCHEDULES", "max": CAP}]
    assert http.get(f"{BASE}/schedules", headers=headers).json()["count"] == CAP, "nothing stored"
    assert http.delete(f"{BASE}/schedules/{ids[0]}", headers=headers).status_code == 204
    assert http.post(f"{BASE}/schedules", json=body(), headers=headers).status_code == 201
    doc = http.get("/openapi.json").json()
    assert "409" in doc["paths"][f"{BASE}/schedules"]["post"]["responses"]
