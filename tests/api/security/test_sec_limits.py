"""Request hygiene at the edge: deeply nested JSON, nested metadata, non-JSON numbers and numeric
fields out of bounds answer 422 naming the field, never a 500."""

from __future__ import annotations

import pytest
from served_api import Api, error_of, noop, unique

DEEP = 6000  # within the test server's 16 KiB body limit, far past any parser's recursion limit


@pytest.mark.parametrize("path, body", [
    ("/images/generate", "[" * DEEP + "]" * DEEP),
    ("/images/generate", '{"prompt": "x", "metadata": ' + '{"a": ' * 2000 + "1" + "}" * 2000 + "}"),
    ("/batch", "[" * DEEP + "]" * DEEP),
    ("/batch", '[{"task_type": "image_generation", "input_data": ' + "[" * DEEP + "]" * DEEP + "}]"),
    ("/subtitles/generate", '{"text": "a", "cues": ' + "[" * DEEP + "]" * DEEP + "}"),
])
def test_deep_nesting_is_a_422(api: Api, path: str, body: str) -> None:
    r = api.client(unique("deep")).post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert error_of(r)["field"] == "body"


def _nested(levels: int) -> dict:
    top: dict = {}
    cur = top
    for _ in range(levels):
        cur["a"] = {}
        cur = cur["a"]
    return top


def test_metadata_nesting_is_bounded(api: Api) -> None:
    c = api.client(unique("meta"))
    assert c.post("/images/generate", json=noop(metadata=_nested(8))).status_code == 202
    r = c.post("/images/generate", json=noop(metadata=_nested(20)))  # past metadata's own limit
    assert r.status_code == 422 and error_of(r)["field"] == "metadata", r.text
    r = c.post("/images/generate", json=noop(metadata=_nested(300)))  # past the body's limit
    assert r.status_code == 422 and error_of(r)["field"] == "body", r.text


@pytest.mark.parametrize("path, body, field", [
    ("/subtitles/generate", {"text": "a", "timing_mode": "manual", "cues": [{"start": 0, "end": 1e308}]},
     "cues.0.end"),
    ("/subtitles/generate", {"text": "a", "timing_mode": "manual", "cues": [{"start": 1e308, "end": 1.7e308}]},
     "cues.0.start"),
    ("/subtitles/generate", {"text": "a", "timing_mode": "manual", "cues": [{"start": 0, "end": 90000}]},
     "cues.0.end"),
    ("/images/generate", {"prompt": "x", "seed": 10**30}, "seed"),
    ("/images/generate", {"prompt": "x", "seed": -1}, "seed"),
    ("/videos/generate", {"prompt": "x", "duration": 10**12}, "duration"),
    ("/images/generate", {"prompt": "x", "n": 10**20}, "n"),
])
def test_numbers_are_bounded(api: Api, path: str, body: dict, field: str) -> None:
    r = api.client(unique("num")).post(path, json=body)
    assert r.status_code == 422, r.text
    assert error_of(r)["field"] == field


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(api: Api, literal: str) -> None:
    raw = '{"text": "a", "timing_mode": "manual", "cues": [{"start": 0, "end": ' + literal + "}]}"
    r = api.client(unique("nan")).post("/subtitles/generate", content=raw.encode(),
                                       headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and error_of(r)["field"] == "body", r.text
