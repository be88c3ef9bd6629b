"""RunwayML against fakes answering with the OpenAPI document's own task examples: the create
call, the polling sequence, failures by code, cancellation (``DELETE /v1/tasks/{id}``) and the
download. Every request is validated against the RunwayML document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run, upload
from fake_answers import BASES, CDN, KEYS, MP4, PNG, RUNWAY_TASK_ID, artifact_bytes, runway_task

from videoai_ray.errors import (
    AuthenticationFailed,
    ContentRejected,
    InvalidInput,
    ProviderTimeout,
    RateLimited,
    RetryableError,
)
from videoai_ray.models import VideoGenerationRequest
from videoai_ray.providers.cloud import PikaVideoProvider, RunwayVideoProvider, prices
from videoai_ray.providers.cloud.runway import API_VERSION
from videoai_ray.settings import Settings

BASE = BASES["runway"]
TASK = f"{BASE}/v1/tasks/{RUNWAY_TASK_ID}"
OUTPUT = f"{CDN}/runway/{RUNWAY_TASK_ID}.mp4"


def provider(settings: Settings, **kw: Any) -> RunwayVideoProvider:
    return RunwayVideoProvider(settings, base_url=BASE, poll_interval=0.01, **kw)


def polls(*statuses: dict[str, Any]) -> list[httpx.Response]:
    return [httpx.Response(200, json=s) for s in statuses]


def assert_versioned(router: respx.MockRouter) -> None:
    for call in router.calls:
        if call.request.url.host == httpx.URL(BASE).host:
            assert call.request.headers["x-runway-version"] == API_VERSION
            assert call.request.headers["authorization"] == f"Bearer {KEYS['RUNWAYML_API_SECRET']}"


def test_text_to_video_polls_until_it_succeeds_and_downloads(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    create = http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).mock(
        side_effect=polls(
            runway_task("pending"),
            runway_task("throttled"),
            runway_task("running"),
            runway_task("running", progress=0.6),
            runway_task("succeeded", output=[OUTPUT]),
        )
    )
    cdn = http.get(OUTPUT).respond(200, content=MP4, headers={"content-type": "video/mp4"})
    ctx, rec = make_ctx()
    request = VideoGenerationRequest(prompt="waves on rocks", duration=5, style="documentary", resolution="1080p")
    out = run(provider(cloud_settings).run(request, ctx))
    body = json.loads(create.calls[0].request.content)
    assert body == {
        "model": "veo3.1_fast",
        "promptText": "waves on rocks. Documentary style.",
        "ratio": "1920:1080",
        "duration": 6,
        "audio": False,
    }
    assert "authorization" not in cdn.calls[0].request.headers
    assert artifact_bytes(out["video_url"]) == MP4
    assert out["duration"] == 6 and out["resolution"] == "1080p"
    assert out["metadata"]["runway_task_id"] == RUNWAY_TASK_ID and out["metadata"]["model"] == "veo3.1_fast"
    assert pytest.approx(0.1 + 0.8 * 0.2) in rec.values and pytest.approx(0.1 + 0.8 * 0.6) in rec.values
    assert rec.values == sorted(rec.values)
    assert ctx.cost == pytest.approx(prices.runway_video("veo3.1_fast", False, 6))
    assert_versioned(http)


def test_image_to_video_passes_a_public_https_image_through(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    create = http.post(f"{BASE}/v1/image_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).respond(200, json=runway_task("succeeded", output=[OUTPUT]))
    http.get(OUTPUT).respond(200, content=MP4)
    request = VideoGenerationRequest(prompt="a cat", image_url="https://images.example.com/cat.jpg", duration=3)
    run(provider(cloud_settings).run(request, make_ctx()[0]))
    body = json.loads(create.calls[0].request.content)
    assert body == {
        "model": "gen4_turbo",
        "promptText": "a cat. Cinematic style.",
        "promptImage": "https://images.example.com/cat.jpg",
        "ratio": "1280:720",
        "duration": 3,
    }


def test_image_to_video_sends_a_local_image_as_a_data_uri(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(PNG)
    create = http.post(f"{BASE}/v1/image_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).respond(200, json=runway_task("succeeded", output=[OUTPUT]))
    http.get(OUTPUT).respond(200, content=MP4)
    request = VideoGenerationRequest(prompt="p", image_url=upload(cloud_settings, image))
    run(provider(cloud_settings).run(request, make_ctx()[0]))
    assert json.loads(create.calls[0].request.content)["promptImage"].startswith("data:image/png;base64,iVBOR")


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("SAFETY.INPUT.IMAGE", ContentRejected),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", ContentRejected),
        ("ASSET.INVALID", InvalidInput),
        ("INTERNAL.BAD_OUTPUT.CODE01", RetryableError),
    ],
)
def test_failed_tasks_are_classified_by_failure_code(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, code: str, cls: type[Exception]
) -> None:
    http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).mock(side_effect=polls(runway_task("running"), runway_task("failed", failureCode=code)))
    with pytest.raises(cls) as info:
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    assert code in str(info.value)


def test_cancelling_our_task_deletes_the_runway_task(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    status = http.get(TASK).respond(200, json=runway_task("running"))
    delete = http.delete(TASK).respond(204)
    ctx, _ = make_ctx(cancel_when=lambda rec: status.call_count >= 2)
    with pytest.raises(asyncio.CancelledError):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), ctx))
    assert delete.call_count == 1
    assert_versioned(http)


def test_asyncio_cancellation_deletes_the_runway_task(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).respond(200, json=runway_task("pending"))
    delete = http.delete(TASK).respond(204)

    async def scenario() -> None:
        job = asyncio.ensure_future(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
        await asyncio.sleep(0.1)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    run(scenario())
    assert delete.call_count == 1


def test_a_timed_out_attempt_deletes_the_runway_task(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).respond(200, json=runway_task("running"))
    delete = http.delete(TASK).respond(404, json={"error": "Task not found"})  # already gone: fine
    p = provider(cloud_settings)
    p.timeout = 0.05  # type: ignore[misc]
    with pytest.raises(ProviderTimeout):
        run(p.run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    assert delete.call_count == 1


def test_create_errors(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    route = http.post(f"{BASE}/v1/text_to_video")
    route.respond(
        429,
        json={"error": "You have exceeded the rate limit for this endpoint."},
        headers={"Retry-After": "30"},
    )
    with pytest.raises(RateLimited) as info:
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    assert info.value.retry_after == 30.0
    route.respond(401, json={"error": "Invalid API key"})
    with pytest.raises(AuthenticationFailed):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
    route.respond(502, text="bad gateway")
    with pytest.raises(RetryableError):
        run(provider(cloud_settings).run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))


def test_supports_what_the_models_can_make(cloud_settings: Settings) -> None:
    p = provider(cloud_settings)
    assert p.supports(VideoGenerationRequest(prompt="p", duration=8))
    assert not p.supports(VideoGenerationRequest(prompt="p", duration=30))
    assert not p.supports(VideoGenerationRequest(prompt="p", resolution="4k"))
    assert not p.supports(VideoGenerationRequest(prompt="p" * 1001))
    assert p.supports(VideoGenerationRequest(prompt="p", duration=10, image_url="https://x.example.com/a.png"))
    assert RunwayVideoProvider.default_poll_interval >= 5.0  # Runway's documented pace
    with pytest.raises(ValueError):
        RunwayVideoProvider(cloud_settings, text_model="gen4_turbo")


def test_a_requested_model_goes_into_the_body(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    """``model`` picks one of Runway's models (the body is checked against the document's enum
    by the fake); one that makes videos only from an image is not chosen for a prompt alone."""
    create = http.post(f"{BASE}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
    http.get(TASK).mock(side_effect=polls(runway_task("succeeded", output=[OUTPUT])))
    http.get(OUTPUT).respond(200, content=MP4, headers={"content-type": "video/mp4"})
    ctx, _ = make_ctx()
    runway = provider(cloud_settings)
    request = VideoGenerationRequest(prompt="waves on rocks", duration=8, resolution="720p", model="veo3")
    assert runway.supports(request) and runway.model_for(request).name == "veo3"
    out = run(runway.run(request, ctx))
    body = json.loads(create.calls[0].request.content)
    assert body["model"] == "veo3" and body["duration"] == 8 and "audio" not in body
    assert out["metadata"]["model"] == "veo3"
    assert not runway.supports(VideoGenerationRequest(prompt="waves", model="gen4_turbo"))  # needs image_url
    assert not runway.supports(VideoGenerationRequest(prompt="waves", resolution="4k", model="veo3"))
    # the providers whose API takes no model name refuse the request rather than drop the field
    pika = PikaVideoProvider(cloud_settings)
    assert not pika.supports(request) and "model: not supported by pika" in str(pika.explain_unsupported(request))
