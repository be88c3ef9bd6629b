"""``POST /batch``: up to 50 tasks, all or nothing, errors naming the item's index."""

from __future__ import annotations

from served_api import Api, error_of, noop, unique


def item(prompt: str | None = None, **kw: object) -> dict:
    return {"task_type": "image_generation", "input_data": noop(prompt), **kw}


def test_batch_creates_every_task_in_order(api: Api) -> None:
    c = api.client(unique("u"))
    items = [item(priority="high"), {"task_type": "subtitle_generation",
                                     "input_data": {"text": "one line", "provider": "noop", "use_cache": False}},
             item()]
    r = c.post("/batch", json=items)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["count"] == 3 and body["batch_id"].startswith("batch_")
    assert [t["type"] for t in body["tasks"]] == ["image_generation", "subtitle_generation", "image_generation"]
    assert [t["priority"] for t in body["tasks"]] == ["high", "medium", "medium"]
    assert all(t["batch_id"] == body["batch_id"] and t["links"]["self"].endswith(t["id"]) for t in body["tasks"])
    listed = c.get("/tasks", params={"batch_id": body["batch_id"]}).json()["tasks"]
    assert {t["id"] for t in listed} == {t["id"] for t in body["tasks"]}


def test_one_bad_item_rejects_the_whole_batch_naming_its_index(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/batch", json=[item(), item(), item(), {"task_type": "image_generation",
                                                        "input_data": {"prompt": ""}}])
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_request" and err["field"] == "[3].input_data.prompt"
    assert err["errors"][0]["field"] == "[3].input_data.prompt"
    assert c.get("/tasks").json()["tasks"] == []


def test_batch_item_shape_errors_name_the_index(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/batch", json=[item(), {"task_type": "poems", "input_data": {}}])
    assert r.status_code == 422 and error_of(r)["field"] == "[1].task_type"
    r = c.post("/batch", json=[{"task_type": "image_generation", "input_data": {"prompt": "x"}, "colour": "red"}])
    assert r.status_code == 422 and error_of(r)["field"] == "[0].colour"
    r = c.post("/batch", json=[item(), {"task_type": "image_generation", "input_data": {"prompt": "forbiddenword"}}])
    assert r.status_code == 422 and error_of(r)["field"] == "[1].input_data.prompt"


def test_more_than_50_items_is_refused(api: Api) -> None:
    r = api.client(unique("u")).post("/batch", json=[item() for _ in range(51)])
    assert r.status_code == 422
    err = error_of(r)
    assert err["field"] == "body" and "at most 50" in err["message"]


def test_batch_body_must_be_a_non_empty_array(api: Api) -> None:
    c = api.client(unique("u"))
    for body in ({"task_type": "image_generation"}, []):
        r = c.post("/batch", json=body)
        assert r.status_code == 422 and error_of(r)["field"] == "body"


def test_batch_with_idempotency_key_is_created_once(api: Api) -> None:
    c = api.client(unique("u"))
    items = [item(), item()]
    first = c.post("/batch", json=items, headers={"Idempotency-Key": "b1"}).json()
    again = c.post("/batch", json=items, headers={"Idempotency-Key": "b1"})
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert [t["id"] for t in again.json()["tasks"]] == [t["id"] for t in first["tasks"]]
    assert again.json()["batch_id"] == first["batch_id"]
