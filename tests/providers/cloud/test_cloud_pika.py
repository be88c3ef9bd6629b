"""Pika through fal.ai's queue API, against a fake speaking the documented queue protocol:
submit → ``request_id`` + status/response/cancel URLs, status ``IN_QUEUE`` → ``IN_PROGRESS`` →
``COMPLETED``, the result with ``video.url``, and ``PUT cancel_url``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, CDN, KEYS, MP4, artifact_bytes

from videoai_ray.errors import AuthenticationFailed, ContentRejected, RateLimited
from videoai_ray.models import VideoGenerationRequest
from videoai_ray.providers.cloud import PikaVideoProvider, prices
from videoai_ray.settings import Settings

BASE = BASES["fal"]
REQUEST_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
APP_URL = f"{BASE}/fal-ai/pika/requests/{REQUEST_ID}"  # fal answers with the app's base path
VIDEO = f"{CDN}/fal/output.mp4"


def queued(**overrides: str) -> dict[str, Any]:
    return {
        "request_id": REQUEST_ID,
        "response_url": APP_URL,
        "status_url": f"{APP_URL}/status",
        "cancel_url": f"{APP_URL}/cancel",
        "queue_position": 0,
        **overrides,
    }


def status(state: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        200 if state == "COMPLETED" else 202, json={"status": state, "response_url": APP_URL, **extra}
    )


def result() -> dict[str, Any]:
    return {"video": {"url": VIDEO, "content_type": "video/mp4", "file_name": "output.mp4", "file_size": len(MP4)}}


def provider(settings: Settings) -> PikaVideoProvider:
    return PikaVideoProvider(settings, base_url=BASE, poll_interval=0.01)


def test_text_to_video_through_the_queue(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    submit = http.post(f"{BASE}/fal-ai/pika/v2.2/text-to-video").respond(200, json=queued())
    http.get(f"{APP_URL}/status").mock(
        side_effect=[
            status("IN_QUEUE", queue_position=2),
            status("IN_QUEUE", queue_position=0),
            status("IN_PROGRESS", logs=[{"message": "generating"}]),
            status("COMPLETED", logs=[]),
        ]
    )
    http.get(APP_URL).respond(200, json=result())
    cdn = http.get(VIDEO).respond(200, content=MP4)
    ctx, rec = make_ctx()
    request = VideoGenerationRequest(prompt="a paper boat", duration=6, resolution="1080p")
    out = run(provider(cloud_settings).run(request, ctx))
    assert submit.calls[0].request.headers["authorization"] == f"Key {KEYS['FAL_KEY']}"
    assert json.loads(submit.calls[0].request.content) == {
        "prompt": "a paper boat. Cinematic style.",
        "resolution": "1080p",
        "duration": 10,
        "aspect_ratio": "16:9",
    }
    assert "authorization" not in cdn.calls[0].request.headers
    assert artifact_bytes(out["video_url"]) == MP4
    assert out["duration"] == 10 and out["metadata"]["fal_request_id"] == REQUEST_ID
    assert any("position 2" in (m or "") for m in rec.messages)
    assert ctx.cost == pytest.approx(prices.pika_video("1080p", 10))


def test_image_to_video_uses_the_image_endpoint(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    submit = http.post(f"{BASE}/fal-ai/pika/v2.2/image-to-video").respond(200, json=queued())
    http.get(f"{APP_URL}/status").mock(return_value=status("COMPLETED"))
    http.get(APP_URL).respond(200, json=result())
    http.get(VIDEO).respond(200, content=MP4)
    request = VideoGenerationRequest(prompt="p", image_url="https://images.example.com/first.jpg")
    run(provider(cloud_settings).run(request, make_ctx()[0]))
    body = json.loads(submit.calls[0].request.content)
    assert body["image_url"] == "https://images.example.com/first.jpg" and "aspect_ratio" not in body


def test_cancelling_our_task_cancels_the_fal_request(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/fal-ai/pika/v2.2/text-to-video").respond(200, json=queued())
    polls = http.get(f"{APP_URL}/status").mock(return_value=status("IN_PROGRESS"))
    cancel = http.put(f"{APP_URL}/cancel").respond(202, json={"status": "CANCELLATION_REQUESTED"})
    ctx, _ = make_ctx(cancel_when=lambda rec: polls.call_count >= 2)
    with pytest.raises(asyncio.CancelledError):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), ctx))
    assert cancel.call_count == 1
    assert cancel.calls[0].request.headers["authorization"] == f"Key {KEYS['FAL_KEY']}"


def test_a_content_policy_rejection_from_the_model(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/fal-ai/pika/v2.2/text-to-video").respond(200, json=queued())
    http.get(f"{APP_URL}/status").mock(return_value=status("COMPLETED"))
    detail = [
        {
            "loc": ["body", "prompt"],
            "msg": "The content could not be processed because it contained material flagged by a content checker.",
            "type": "content_policy_violation",
        }
    ]
    http.get(APP_URL).respond(422, json={"detail": detail})
    with pytest.raises(ContentRejected):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))


def test_submit_errors(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    route = http.post(f"{BASE}/fal-ai/pika/v2.2/text-to-video")
    route.respond(401, json={"detail": "No user found for Key ID and Secret"})
    with pytest.raises(AuthenticationFailed):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    route.respond(429, json={"detail": "Too many requests"}, headers={"retry-after": "2"})
    with pytest.raises(RateLimited) as info:
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    assert info.value.retry_after == 2.0


def test_the_key_is_never_sent_to_another_host(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    # a queue answer naming another host (a gateway passing fal's own URLs through, or a bad
    # answer): the documented URLs on our own queue host are used instead
    http.post(f"{BASE}/fal-ai/pika/v2.2/text-to-video").respond(
        200, json=queued(status_url="https://elsewhere.test/status", response_url="https://elsewhere.test/r")
    )
    own = f"{BASE}/fal-ai/pika/v2.2/requests/{REQUEST_ID}"
    http.get(f"{own}/status").mock(side_effect=[status("COMPLETED")])
    http.get(own).respond(200, json=result())
    http.get(VIDEO).respond(200, content=MP4)
    out = run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    assert artifact_bytes(out["video_url"]) == MP4
    assert {c.request.url.host for c in http.calls} == {httpx.URL(BASE).host, httpx.URL(CDN).host}


def test_supports(cloud_settings: Settings) -> None:
    p = provider(cloud_settings)
    assert p.supports(VideoGenerationRequest(prompt="p", duration=10))
    assert not p.supports(VideoGenerationRequest(prompt="p", duration=11))
    assert not p.supports(VideoGenerationRequest(prompt="p", resolution="4k"))
