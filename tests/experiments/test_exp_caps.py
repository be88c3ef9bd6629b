"""The cap on a user's running experiments (``user_max_experiments``), in the SDK and over HTTP
(the real FastAPI app in-process, on the shared experiment Scheduler): one past it is refused
(``QuotaExceeded``, 409 ``quota_exceeded`` naming the setting) with nothing stored; a stopped
experiment does not count."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from arms import two_arms
from fastapi.testclient import TestClient

import videoai_ray as vai
from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter

CAP = 2
BASE = "/api/v1/media"


@pytest.fixture(scope="module")
def capped(exp_client: vai.Client) -> vai.Settings:
    return exp_client.settings.model_copy(update={"user_max_experiments": CAP})


def test_the_sdk_refuses_an_experiment_past_the_cap(exp_client: vai.Client, capped: vai.Settings,
                                                     make_client: Callable[[str], vai.Client]) -> None:
    alice = vai.Client(capped, exp_client.scheduler, exp_client.service.store, make_client("cap").user_id)
    made = [alice.experiment(**two_arms(name=f"e{i}")) for i in range(CAP)]
    try:
        with pytest.raises(vai.QuotaExceeded) as info:
            alice.experiment(**two_arms(name="one too many"))
        err = info.value
        assert err.code == "quota_exceeded" and err.limit == "VIDEOAI_USER_MAX_EXPERIMENTS" and err.maximum == CAP
        assert "VIDEOAI_USER_MAX_EXPERIMENTS" in err.message
        assert len(alice.experiments()) == CAP, "nothing stored"
        made[0].stop()  # a stopped experiment takes no traffic: it does not count
        made.append(alice.experiment(**two_arms(name="after a stop")))
        assert len(alice.experiments()) == CAP + 1
    finally:
        for exp in made:
            exp.stop()


@pytest.fixture(scope="module")
def http(exp_client: vai.Client, capped: vai.Settings) -> Iterator[TestClient]:
    ctx = ApiContext.start(capped, exp_client.scheduler, MemoryRateLimiter())
    with TestClient(create_app(ctx)) as client:
        yield client


def test_http_answers_409_past_the_cap(http: TestClient, capped: vai.Settings) -> None:
    headers = {"Authorization": f"Bearer {create_token(capped, 'cap-' + uuid.uuid4().hex[:8])}"}
    ids = []
    for i in range(CAP):
        r = http.post(f"{BASE}/experiments", json=two_arms(name=f"e{i}"), headers=headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    try:
        r = http.post(f"{BASE}/experiments", json=two_arms(name="one too many"), headers=headers)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "quota_exceeded" and "VIDEOAI_USER_MAX_EXPERIMENTS" in err["message"]
        assert err["errors"] == [{"limit": "VIDEOAI_USER_MAX_EXPERIMENTS", "max": CAP}]
        assert http.get(f"{BASE}/experiments", headers=headers).json()["count"] == CAP, "nothing stored"
        doc = http.get("/openapi.json").json()
        assert "409" in doc["paths"][f"{BASE}/experiments"]["post"]["responses"]
    finally:
        for exp_id in ids:
            http.post(f"{BASE}/experiments/{exp_id}/stop", headers=headers)
