"""Creating, reading, listing, cancelling and retrying tasks over HTTP; users' isolation."""

from __future__ import annotations

import pytest
from served_api import Api, error_of, noop, parked, unique

PREFIX = "/api/v1/media"


@pytest.mark.parametrize(("path", "body", "task_type"), [
    ("/images/generate", {"prompt": "Um gato robô futurista", "style": "anime", "size": "512x512", "quality": "hd",
                          "n": 2, "priority": "high", "metadata": {"k": "v"}}, "image_generation"),
    ("/videos/generate", {"prompt": "a city at night", "duration": 3, "style": "documentary", "fps": 12,
                          "resolution": "720p", "priority": "low"}, "video_generation"),
    ("/audio/transcribe", {"audio_url": "https://93.184.215.14/audio.mp3", "language": "pt", "model": "whisper-1",
                           "response_format": "srt", "priority": "urgent"}, "audio_transcription"),
    ("/subtitles/generate", {"text": "Hello there.\nGeneral Kenobi.", "target_language": "en", "format": "vtt",
                             "timing_mode": "auto", "priority": "medium"}, "subtitle_generation"),
])
def test_each_media_endpoint_accepts_the_seed_body(api: Api, path: str, body: dict, task_type: str) -> None:
    c = api.client(unique("u"))
    r = c.post(path, json={**body, "provider": "park", "use_cache": False})
    assert r.status_code == 202, r.text
    task = r.json()
    assert task["type"] == task_type and task["status"] == "pending"
    assert task["priority"] == body["priority"]
    assert task["id"].startswith("task_")
    assert task["links"] == {"self": f"{PREFIX}/tasks/{task['id']}", "cancel": f"{PREFIX}/tasks/{task['id']}/cancel",
                             "retry": f"{PREFIX}/tasks/{task['id']}/retry"}
    assert r.headers["location"] == task["links"]["self"]
    assert "webhook_secret" not in task
    assert c.post(f"/tasks/{task['id']}/cancel").json()["status"] == "cancelled"


def test_wait_answers_200_with_the_finished_task(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/images/generate", params={"wait": 10}, json=noop())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed" and r.json()["output"] == {"noop": True}


def test_wait_answers_202_when_the_task_is_not_done_in_time(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/images/generate", params={"wait": 0.5}, json=parked())
    assert r.status_code == 202
    assert r.json()["status"] in ("pending", "processing")
    c.delete(f"/tasks/{r.json()['id']}")


@pytest.mark.parametrize("wait", ["61", "-1", "soon", "nan"])
def test_wait_is_a_number_of_seconds_up_to_60(api: Api, wait: str) -> None:
    r = api.client(unique("u")).post("/images/generate", params={"wait": wait}, json=noop())
    assert r.status_code == 422
    assert error_of(r)["field"] == "wait"


def test_idempotency_key_over_200_characters_is_422(api: Api) -> None:
    c = api.client(unique("u"))
    for r in (c.post("/images/generate", json=noop(), headers={"Idempotency-Key": "k" * 201}),
              c.post("/batch", json=[{"task_type": "image_generation", "input_data": noop()}],
                     headers={"Idempotency-Key": "k" * 201})):
        assert r.status_code == 422
        assert error_of(r)["field"] == "Idempotency-Key"


def test_get_and_list_with_filters_and_cursor_pagination(api: Api) -> None:
    c = api.client(unique("u"))
    ids = [c.post("/images/generate", params={"wait": 10}, json=noop()).json()["id"] for _ in range(5)]
    sub = c.post("/subtitles/generate", json={"text": "hi", "provider": "park", "use_cache": False}).json()
    assert c.get(f"/tasks/{ids[0]}").json()["id"] == ids[0]

    images = c.get("/tasks", params={"task_type": "image_generation", "status": "completed"}).json()
    assert [t["id"] for t in images["tasks"]] == ids[::-1]
    assert images["next_cursor"] is None
    subs = c.get("/tasks", params={"task_type": "subtitle_generation"}).json()["tasks"]
    assert [t["id"] for t in subs] == [sub["id"]]

    seen: list[str] = []
    cursor = None
    while True:
        page = c.get("/tasks", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["tasks"]) <= 2 and page["limit"] == 2
        seen += [t["id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [sub["id"], *ids[::-1]]
    c.post(f"/tasks/{sub['id']}/cancel")


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 201}, "limit"), ({"limit": 0}, "limit"), ({"status": "done"}, "status"),
    ({"task_type": "poems"}, "task_type"), ({"cursor": "not-a-cursor"}, "cursor"),
])
def test_list_rejects_bad_parameters_naming_them(api: Api, params: dict, field: str) -> None:
    r = api.client(unique("u")).get("/tasks", params=params)
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_request" and err["field"] == field


def test_cancel_delete_and_retry(api: Api) -> None:
    c = api.client(unique("u"))
    first = c.post("/images/generate", json=parked()).json()
    second = c.post("/images/generate", json=parked()).json()
    cancelled = c.post(f"/tasks/{second['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    retried = c.post(f"/tasks/{second['id']}/retry")
    # accepted again: queued, or already holding the park provider's slot if it fell free
    assert retried.status_code == 202 and retried.json()["status"] in ("pending", "processing")
    deleted = c.delete(f"/tasks/{second['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "cancelled"
    assert c.delete(f"/tasks/{first['id']}").json()["status"] == "cancelled"

    done = c.post("/images/generate", params={"wait": 10}, json=noop()).json()
    r = c.post(f"/tasks/{done['id']}/retry")
    assert r.status_code == 409 and error_of(r)["code"] == "invalid_transition"


def test_failed_task_and_manual_retry(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/images/generate", params={"wait": 10}, json={"prompt": unique(), "provider": "perm",
                                                               "use_cache": False})
    assert r.status_code == 200
    failed = r.json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_input"
    again = c.post(f"/tasks/{failed['id']}/retry")
    assert again.status_code == 202 and again.json()["status"] in ("pending", "processing", "failed")


def test_idempotency_key_returns_the_same_task(api: Api) -> None:
    c = api.client(unique("u"))
    key = unique("key")
    body = parked()
    first = c.post("/images/generate", json=body, headers={"Idempotency-Key": key})
    again = c.post("/images/generate", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    other_user = api.client(unique("u")).post("/images/generate", json=body, headers={"Idempotency-Key": key})
    assert other_user.json()["id"] != first.json()["id"]
    for t in (first.json(), other_user.json()):
        api.client(t["user_id"]).delete(f"/tasks/{t['id']}")


def test_users_see_and_touch_only_their_own_tasks(api: Api) -> None:
    alice, bob = unique("alice"), unique("bob")
    a, b = api.client(alice), api.client(bob)
    task = a.post("/images/generate", json=parked()).json()
    tid = task["id"]
    for method, path in [("GET", f"/tasks/{tid}"), ("POST", f"/tasks/{tid}/cancel"), ("DELETE", f"/tasks/{tid}"),
                         ("POST", f"/tasks/{tid}/retry"), ("GET", f"/tasks/{tid}/files/image_1.png")]:
        r = b.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert error_of(r)["code"] == "task_not_found"
    assert b.get("/tasks").json()["tasks"] == []
    assert [t["id"] for t in a.get("/tasks").json()["tasks"]] == [tid]
    # queued behind the park provider's one slot; on a loaded machine the slot's minute may end
    assert a.get(f"/tasks/{tid}").json()["status"] in ("pending", "processing")
    assert b.get("/statistics").json()["total_tasks"] == 0
    a.delete(f"/tasks/{tid}")


def test_unknown_task_is_404(api: Api) -> None:
    r = api.client(unique("u")).get("/tasks/task_doesnotexist")
    assert r.status_code == 404
    assert error_of(r) == {"code": "task_not_found", "message": "no task task_doesnotexist", "field": None}
