"""The contract checker itself: the three OpenAPI documents load, reject requests that break them
and accept what the adapters send, so the validation the ``http`` fixture runs after every test
is not vacuous."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from cloud_contract import check_calls, contracts
from fake_answers import BASES, CDN, KEYS, MP4, RUNWAY_TASK_ID, runway_task

from videoai_ray.models import ImageGenerationRequest, VideoGenerationRequest
from videoai_ray.providers.base import ProviderContext
from videoai_ray.providers.cloud import OpenAIImageProvider, RunwayVideoProvider
from videoai_ray.settings import Settings

RUNWAY = {"Authorization": f"Bearer {KEYS['RUNWAYML_API_SECRET']}", "X-Runway-Version": "2024-11-06"}


@pytest.mark.parametrize(
    ("base", "path", "body", "headers", "problem"),
    [
        (
            BASES["openai"],
            "/images/generations",
            {"model": "dall-e-3", "prompt": "x", "quality": "ultra"},
            {"Authorization": "Bearer k"},
            "quality",
        ),
        (BASES["openai"], "/images/generations", {"model": "dall-e-3", "prompt": "x"}, {}, "Security"),
        (
            BASES["assemblyai"],
            "/v2/transcript",
            {"audio_url": "https://x.example.com/a.mp3"},
            {"Authorization": "k"},
            "speech_models",
        ),
        (
            BASES["runway"],
            "/v1/text_to_video",
            {"model": "veo3.1_fast", "promptText": "x", "ratio": "1280:720", "duration": 5},
            RUNWAY,
            "valid",
        ),
        (
            BASES["runway"],
            "/v1/image_to_video",
            {"model": "gen4_turbo", "promptImage": "http://insecure.example.com/a.png", "ratio": "1280:720"},
            RUNWAY,
            "valid",
        ),
    ],
)
def test_requests_that_break_a_document_are_rejected(
    base: str, path: str, body: dict[str, Any], headers: dict[str, str], problem: str
) -> None:
    request = httpx.Request("POST", base + path, json=body, headers=headers)
    contract = next(c for c in contracts() if c.owns(request))
    with pytest.raises(AssertionError, match=problem):
        contract.validate_request(request)


def test_a_fake_answer_that_breaks_the_document_is_rejected() -> None:
    request = httpx.Request("GET", f"{BASES['runway']}/v1/tasks/{RUNWAY_TASK_ID}", headers=RUNWAY)
    contract = next(c for c in contracts() if c.owns(request))
    contract.validate_response(request, httpx.Response(200, json=runway_task("running")))
    with pytest.raises(AssertionError, match="violates the document"):
        contract.validate_response(request, httpx.Response(200, json={**runway_task("running"), "progress": 7}))


def test_every_adapter_request_is_checked(cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    with respx.mock() as router:
        router.post(f"{BASES['runway']}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
        router.get(f"{BASES['runway']}/v1/tasks/{RUNWAY_TASK_ID}").mock(
            side_effect=[
                httpx.Response(200, json=runway_task("running")),
                httpx.Response(200, json=runway_task("succeeded", output=[f"{CDN}/v.mp4"])),
            ]
        )
        router.get(f"{CDN}/v.mp4").respond(200, content=MP4)
        provider = RunwayVideoProvider(cloud_settings, base_url=BASES["runway"], poll_interval=0.01)
        run(provider.run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
        assert check_calls(router.calls) == 3  # create + two polls (the CDN download is not documented)


def test_an_adapter_sending_an_undocumented_body_fails_the_check(
    cloud_settings: Settings, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = RunwayVideoProvider.body

    async def bad_body(self: RunwayVideoProvider, ctx: ProviderContext, req: VideoGenerationRequest) -> Any:
        path, body = await original(self, ctx, req)
        return path, {**body, "duration": 5}  # veo3.1_fast only makes 4, 6 or 8 s

    monkeypatch.setattr(RunwayVideoProvider, "body", bad_body)
    with respx.mock() as router:
        router.post(f"{BASES['runway']}/v1/text_to_video").respond(200, json={"id": RUNWAY_TASK_ID})
        router.get(f"{BASES['runway']}/v1/tasks/{RUNWAY_TASK_ID}").respond(
            200, json=runway_task("succeeded", output=[f"{CDN}/v.mp4"])
        )
        router.get(f"{CDN}/v.mp4").respond(200, content=MP4)
        provider = RunwayVideoProvider(cloud_settings, base_url=BASES["runway"], poll_interval=0.01)
        run(provider.run(VideoGenerationRequest(prompt="p"), make_ctx()[0]))
        with pytest.raises(AssertionError, match="text_to_video violates the OpenAPI document"):
            check_calls(router.calls)


def test_the_openai_image_body_matches_the_document_for_every_seed_option(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    from fake_answers import openai_images_answer

    http.post(f"{BASES['openai']}/images/generations").respond(200, json=openai_images_answer(1))
    provider = OpenAIImageProvider(cloud_settings, base_url=BASES["openai"])
    for size in ("512x512", "1024x1024", "1024x1792"):
        for quality in ("standard", "hd"):
            for style in ("realistic", "artistic", "anime"):
                request = ImageGenerationRequest(prompt="p", size=size, quality=quality, style=style)
                run(provider.run(request, make_ctx()[0]))
    assert len(http.calls) == 18
    assert {json.loads(c.request.content)["size"] for c in http.calls} == {"1024x1024", "1024x1536"}
