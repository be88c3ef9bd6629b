"""One URL policy for every field that names an input, over HTTP: only http(s) URLs whose host
passes the network guard; never a local path, an fsspec scheme or chain, an SDK upload reference,
or a private address. Each field of each route, single and in a batch."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from origin_server import Origin
from served_api import Api, error_of, unique

from videoai_ray.models import REQUEST_MODELS

#: (route, task type, body without the URL, the URL field)
FIELDS = [
    ("/audio/transcribe", "audio_transcription", {}, "audio_url"),
    ("/videos/generate", "video_generation", {"prompt": "p"}, "image_url"),
]

BAD = [
    "file:///etc/passwd", "file:///etc/shadow", "/etc/passwd", "../../etc/passwd",
    "artifact://task_x/image_1.png", "s3://bucket/key", "gs://bucket/key", "memory://x",
    "ftp://8.8.8.8/a.wav", "data:audio/wav;base64,UklGRg==", "upload://" + "a" * 32 + "/x.wav",
    "http://10.0.0.1/a.wav", "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/a.wav",
    "http://100.100.100.200/a", "http://[2002:7f00:1::]/a", "http://[::ffff:10.0.0.1]/a",
    "http://metadata.google.internal/a", "http://user:secret@8.8.8.8/a.wav",
]


def test_every_url_field_follows_the_policy() -> None:
    """A new ``*_url`` input field must join ``input_url_fields`` (and so this policy)."""
    for model in REQUEST_MODELS.values():
        named = {f for f in model.model_fields if f.endswith("_url") and f != "webhook_url"}
        assert named == set(model.input_url_fields), model.__name__


@pytest.mark.parametrize("url", BAD)
@pytest.mark.parametrize("route, task_type, body, field", FIELDS)
def test_refused_with_422_naming_the_field(api: Api, route: str, task_type: str, body: dict[str, Any],
                                           field: str, url: str) -> None:
    c = api.client(unique("url"))
    r = c.post(route, json={**body, field: url, "provider": "inputs", "use_cache": False})
    assert r.status_code == 422, (url, r.text)
    assert error_of(r)["field"] == field
    b = c.post("/batch", json=[{"task_type": task_type, "input_data": {**body, field: url}}])
    assert b.status_code == 422, (url, b.text)
    assert error_of(b)["field"] == f"[0].input_data.{field}"


@pytest.mark.parametrize("route, task_type, body, field", FIELDS)
def test_fsspec_chains_make_no_request(api: Api, route: str, task_type: str, body: dict[str, Any],
                                       field: str) -> None:
    with Origin() as origin:
        for chain in ("simplecache", "blockcache", "filecache"):
            r = api.client(unique("url")).post(route, json={**body, field: f"{chain}::{origin.url}/x.png",
                                                            "provider": "inputs"})
            assert r.status_code == 422 and error_of(r)["field"] == field
        assert origin.paths == []


@pytest.mark.parametrize("route, task_type, body, field", FIELDS)
def test_an_allowed_http_url_is_fetched(api: Api, route: str, task_type: str, body: dict[str, Any],
                                        field: str) -> None:
    """The same field accepts an http URL the guard admits (127.0.0.1 is allow-listed in tests)."""
    with Origin() as origin:
        r = api.client(unique("url")).post(route, params={"wait": 20},
                                           json={**body, field: f"{origin.url}/in.bin", "provider": "inputs",
                                                 "use_cache": False})
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["status"] == "completed", task
        assert task["output"]["inputs"][field]["sha256"] == hashlib.sha256(origin.body).hexdigest()
        assert origin.paths == ["/in.bin"]
