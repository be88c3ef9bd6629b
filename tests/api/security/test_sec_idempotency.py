"""An ``Idempotency-Key`` is bound to the request it was first used with (route and body): the
same request replays the task, another one answers 409 saying so and creates nothing."""

from __future__ import annotations

from served_api import Api, error_of, parked, unique


def test_same_key_other_body_or_route_is_a_409(api: Api) -> None:
    c = api.client(unique("idem"))
    key = unique("key")
    body = parked()
    first = c.post("/images/generate", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    replay = c.post("/images/generate", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    before = len(c.get("/tasks", params={"limit": 200}).json()["tasks"])
    for route, other in [("/images/generate", {**body, "prompt": "something else"}),
                         ("/images/generate", {**body, "priority": "urgent"}),
                         ("/videos/generate", {"prompt": body["prompt"], "provider": "park", "use_cache": False})]:
        r = c.post(route, json=other, headers={"Idempotency-Key": key})
        assert r.status_code == 409, (route, other, r.text)
        err = error_of(r)
        assert err["code"] == "idempotency_conflict" and err["field"] == "Idempotency-Key"
        assert "different request" in err["message"]
    assert len(c.get("/tasks", params={"limit": 200}).json()["tasks"]) == before


def test_a_batch_key_does_not_replay_on_a_single_route(api: Api) -> None:
    c = api.client(unique("idem"))
    key = unique("key")
    item = parked()
    b = c.post("/batch", json=[{"task_type": "image_generation", "input_data": item}],
               headers={"Idempotency-Key": key})
    assert b.status_code == 202
    again = c.post("/batch", json=[{"task_type": "image_generation", "input_data": item}],
                   headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.json()["tasks"][0]["id"] == b.json()["tasks"][0]["id"]
    r = c.post("/images/generate", json=item, headers={"Idempotency-Key": f"{key}#0"})
    assert r.status_code == 409 and error_of(r)["code"] == "idempotency_conflict"
