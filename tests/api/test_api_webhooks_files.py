"""Webhook deliveries and secrets over HTTP; downloading output files."""

from __future__ import annotations

import time
from urllib.parse import quote

from served_api import Api, Receiver, error_of, unique


def _wait_for_deliveries(c: object, task_id: str, n: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = c.get("/webhooks", params={"task_id": task_id}).json()["deliveries"]  # type: ignore[attr-defined]
        if sum(r["status"] == "delivered" for r in rows) >= n or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.2)


def test_webhook_deliveries_status_redelivery_and_statistics(api: Api) -> None:
    user = unique("hooks")
    c = api.client(user)
    with Receiver() as rx:
        r = c.post("/images/generate", params={"wait": 10},
                   json={"prompt": unique(), "provider": "noop", "use_cache": False, "webhook_url": rx.url,
                         "webhook_events": ["task.completed"]})
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["webhook_url"] == rx.url
        rows = _wait_for_deliveries(c, task["id"], 1)
        done = next(d for d in rows if d["event_type"] == "task.completed")
        assert done["status"] == "delivered" and done["task_id"] == task["id"]

        status = c.get(f"/webhooks/{done['webhook_id']}/status")
        assert status.status_code == 200
        full = status.json()
        assert full["payload"]["event_type"] == "task.completed" and full["payload"]["task_id"] == task["id"]
        assert full["log"] and full["attempts"] >= 1

        again = c.post(f"/webhooks/{done['webhook_id']}/redeliver")
        assert again.status_code == 202 and again.json()["status"] == "pending"
        deadline = time.monotonic() + 20
        while len([b for b in rx.bodies if b["task_id"] == task["id"]]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len([b for b in rx.bodies if b["task_id"] == task["id"]]) == 2

    stats = c.get("/webhooks/statistics").json()
    assert stats["total"] >= 1 and stats["delivered"] + stats["pending"] >= 1

    other = api.client(unique("other"))
    for method, path in [("GET", f"/webhooks/{done['webhook_id']}/status"),
                         ("POST", f"/webhooks/{done['webhook_id']}/redeliver")]:
        r = other.request(method, path)
        assert r.status_code == 404 and error_of(r)["code"] == "webhook_not_found"
    assert other.get("/webhooks", params={"task_id": task["id"]}).json()["deliveries"] == []
    assert c.get("/webhooks", params={"status": "lost"}).status_code == 422


def test_webhook_secret_read_and_rotate(api: Api) -> None:
    c = api.client(unique("sec"))
    first = c.get("/webhooks/secret").json()["secret"]
    assert first.startswith("whsec_") and c.get("/webhooks/secret").json()["secret"] == first
    rotated = c.post("/webhooks/secret/rotate").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != first
    assert c.get("/webhooks/secret").json()["secret"] == rotated
    assert api.client(unique("sec")).get("/webhooks/secret").json()["secret"] not in (first, rotated)


def test_output_files_download_for_the_owner_only(api: Api) -> None:
    c = api.client(unique("files"))
    r = c.post("/subtitles/generate", params={"wait": 20},
               json={"text": "Hello there.\nGeneral Kenobi.", "format": "vtt", "provider": "local-subtitles",
                     "use_cache": False})
    assert r.status_code == 200, r.text
    task = r.json()
    out = task["output"]
    link = out["subtitle_download_url"]
    assert link == f"/api/v1/media/tasks/{task['id']}/files/subtitles.vtt"
    assert out["subtitle_url"] == link  # the stored file's location is never shown
    f = api.root().get(link, headers=c.headers)
    assert f.status_code == 200
    assert f.headers["content-type"].startswith("text/vtt")
    assert f.text == out["content"] and f.text.startswith("WEBVTT")

    assert api.client(unique("thief")).get(link.removeprefix("/api/v1/media")).status_code == 404
    for name in ("missing.vtt", quote("../../videoai.db", safe=""), "..%2Fvideoai.db", "%2Fetc%2Fpasswd"):
        r = c.get(f"/tasks/{task['id']}/files/{name}")
        assert r.status_code == 404, (name, r.text)
    assert api.client().get(link.removeprefix("/api/v1/media")).status_code == 401


def test_cached_result_files_download_through_the_new_task(api: Api) -> None:
    c = api.client(unique("cache"))
    body = {"text": unique("cached text"), "format": "srt", "provider": "local-subtitles"}
    first = c.post("/subtitles/generate", params={"wait": 20}, json=body).json()
    second = c.post("/subtitles/generate", params={"wait": 20}, json=body).json()
    assert second["cache_hit"] is True and second["id"] != first["id"]
    link = second["output"]["subtitle_download_url"]
    assert link.startswith(f"/api/v1/media/tasks/{second['id']}/files/")
    f = c.get(link.removeprefix("/api/v1/media"))
    assert f.status_code == 200 and f.text == first["output"]["content"]
