"""Tenant boundaries beyond task ids: another user's task is unknown on every route, the result
cache is per user, no response names a server path or another user's task, and what every user
sees of a provider's health holds no other user's URL, query string or path."""

from __future__ import annotations

import time
from typing import Any

import httpx
from origin_server import Origin
from served_api import Api, Receiver, unique

from videoai_ray.redact import public_message


def _no_server_path(api: Api, r: httpx.Response) -> None:
    home = str(api.settings.home.resolve())
    assert home not in r.text and "file://" not in r.text and str(api.settings.artifacts_root) not in r.text


def test_another_users_task_is_unknown_on_every_route(api: Api) -> None:
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    with Receiver() as rx:
        r = alice.post("/subtitles/generate", params={"wait": 20},
                       json={"text": unique("alice's words"), "provider": "local-subtitles", "use_cache": False,
                             "webhook_url": rx.url})
        assert r.status_code == 200, r.text
        task = r.json()
    tid = task["id"]
    name = task["output"]["subtitle_download_url"].rsplit("/", 1)[1]
    for method, path in [("GET", f"/tasks/{tid}"), ("POST", f"/tasks/{tid}/cancel"), ("DELETE", f"/tasks/{tid}"),
                         ("POST", f"/tasks/{tid}/retry"), ("GET", f"/tasks/{tid}/files/{name}")]:
        r = bob.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert tid not in r.text.replace(f"no task {tid}", "").replace(f"for task {tid}", "")
    assert tid not in bob.get("/tasks", params={"limit": 200}).text
    assert bob.get("/webhooks", params={"task_id": tid}).json()["deliveries"] == []
    assert alice.get(f"/tasks/{tid}/files/{name}").status_code == 200


def test_the_result_cache_is_per_user(api: Api) -> None:
    body = {"text": unique("cached per user"), "format": "srt", "provider": "local-subtitles"}
    alice, bob = api.client(unique("alice")), api.client(unique("bob"))
    first = alice.post("/subtitles/generate", params={"wait": 20}, json=body).json()
    again = alice.post("/subtitles/generate", params={"wait": 20}, json=body)
    assert first["cache_hit"] is False and again.json()["cache_hit"] is True  # one user's repeat hits
    other = bob.post("/subtitles/generate", params={"wait": 20}, json=body)
    assert other.status_code == 200 and other.json()["cache_hit"] is False  # nobody learns what alice sent
    assert first["id"] not in other.text and first["id"] not in again.text.replace(again.json()["id"], "")
    for r in (again, other):
        _no_server_path(api, r)


def test_outputs_are_opaque_in_responses_and_webhooks(api: Api) -> None:
    c = api.client(unique("opaque"))
    with Receiver() as rx:
        r = c.post("/subtitles/generate", params={"wait": 20},
                   json={"text": unique("x"), "provider": "local-subtitles", "use_cache": False,
                         "webhook_url": rx.url, "webhook_events": ["task.completed"]})
        assert r.status_code == 200
        tid = r.json()["id"]
        deadline = time.monotonic() + 15
        while not any(b["task_id"] == tid and b["event_type"] == "task.completed" for b in rx.bodies):
            assert time.monotonic() < deadline, "no task.completed delivery"
            time.sleep(0.1)
        done = next(b for b in rx.bodies if b["task_id"] == tid and b["event_type"] == "task.completed")
    url = done["data"]["output_data"]["subtitle_url"]
    assert url == f"/api/v1/media/tasks/{tid}/files/subtitles.srt"
    home = str(api.settings.home.resolve())
    assert home not in str(done) and "file://" not in str(done)
    for path in (f"/tasks/{tid}", "/tasks", f"/webhooks?task_id={tid}"):
        _no_server_path(api, c.get(path))


def _provider(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in rows if p["name"] == name)


def test_provider_errors_show_no_other_users_url(api: Api) -> None:
    secret = unique("X-Amz-Signature")
    with Origin(status=503) as origin:
        url = f"{origin.url}/private/alice-meeting.wav?X-Amz-Signature={secret}"
        r = api.client(unique("alice")).post("/audio/transcribe", params={"wait": 20},
                                             json={"audio_url": url, "provider": "inputs", "use_cache": False})
        assert r.status_code == 200 and r.json()["status"] == "failed", r.text
        assert origin.paths  # the worker did try to fetch it
    bob = api.client(unique("bob"))
    seen = [_provider(bob.get("/providers").json()["providers"], "inputs"),
            _provider(bob.get("/statistics").json()["providers"], "inputs")]
    for row in seen:
        assert row["last_error"], row  # the failure is visible ...
        text = str(row)
        for leak in (secret, "alice-meeting", "/private/", origin.url, "127.0.0.1"):
            assert leak not in text, (leak, row)  # ... but not whose input it was


def test_public_message_drops_urls_paths_and_queries() -> None:
    msg = ("RetryableError: fetching s3://bucket/alice/x.wav?X-Amz-Signature=abc from https://h.example/a?sig=1 "
           "(could not decode /srv/videoai/artifacts/uploads/ab/meeting.wav) simplecache::http://10.0.0.1/x "
           "and ?token=zzz")
    out = public_message(msg) or ""
    assert out.startswith("RetryableError: fetching")
    for leak in ("s3://", "bucket", "X-Amz", "h.example", "sig=1", "/srv/", "meeting.wav", "10.0.0.1", "zzz"):
        assert leak not in out, (leak, out)
    assert len(public_message("x" * 5000) or "") <= 200

