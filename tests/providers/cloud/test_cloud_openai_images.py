"""OpenAI images against a fake ``POST /v1/images/generations`` that answers with the document's
example; every request is validated against the OpenAI document by the ``http`` fixture."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, CDN, KEYS, PNG, artifact_bytes, openai_error, openai_images_answer

from videoai_ray.errors import (
    AuthenticationFailed,
    ContentRejected,
    ProviderTimeout,
    RateLimited,
    RetryableError,
)
from videoai_ray.models import ImageGenerationRequest
from videoai_ray.providers.cloud import OpenAIDallE3Provider, OpenAIImageProvider, prices
from videoai_ray.settings import Settings

GENERATIONS = BASES["openai"] + "/images/generations"


def sent(router: respx.MockRouter) -> list[dict[str, object]]:
    return [json.loads(c.request.content) for c in router.calls if c.request.url == GENERATIONS]


def test_gpt_image_makes_n_images_in_one_call_and_stores_the_base64(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    route = http.post(GENERATIONS).respond(200, json=openai_images_answer(2))
    ctx, rec = make_ctx()
    provider = OpenAIImageProvider(cloud_settings, base_url=BASES["openai"])
    request = ImageGenerationRequest(prompt="a robot cat", style="anime", size="1024x1792", quality="hd", n=2)
    out = run(provider.run(request, ctx))
    assert route.call_count == 1
    assert route.calls[0].request.headers["authorization"] == f"Bearer {KEYS['OPENAI_API_KEY']}"
    body = sent(http)[0]
    assert body == {
        "model": "gpt-image-1",
        "prompt": "a robot cat, anime style",
        "n": 2,
        "size": "1024x1536",
        "quality": "high",
        "output_format": "png",
    }
    assert len(out["images"]) == 2 and out["image_url"] == out["images"][0]["url"]
    assert artifact_bytes(out["image_url"]) == PNG
    assert out["metadata"]["model"] == "gpt-image-1" and out["metadata"]["size"] == "1024x1536"
    # the example answer's usage (50 input, 50 output tokens) gives the actual cost
    assert ctx.cost == pytest.approx(prices.tokens_cost(prices.OPENAI_IMAGE_TOKENS["gpt-image-1"], 50, 50))
    assert rec.values[-1] == 1.0


def test_dalle3_fans_out_one_request_per_image_and_downloads_the_urls(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(GENERATIONS).mock(side_effect=[httpx.Response(200, json=openai_images_answer(1, url=True))] * 3)
    cdn = http.get(url__startswith=CDN).respond(200, content=PNG, headers={"content-type": "image/png"})
    ctx, _ = make_ctx()
    provider = OpenAIDallE3Provider(cloud_settings, base_url=BASES["openai"])
    out = run(provider.run(ImageGenerationRequest(prompt="a quiet harbour", n=3, size="512x512"), ctx))
    bodies = sent(http)
    assert len(bodies) == 3 and all(b["n"] == 1 for b in bodies)
    assert bodies[0] == {
        "model": "dall-e-3",
        "prompt": "a quiet harbour",
        "n": 1,
        "size": "1024x1024",
        "quality": "standard",
        "style": "natural",
        "response_format": "url",
    }
    assert cdn.call_count == 3
    assert all("authorization" not in c.request.headers for c in cdn.calls)  # no key to the CDN
    assert [artifact_bytes(i["url"]) for i in out["images"]] == [PNG] * 3
    assert out["metadata"]["requested_size"] == "512x512" and out["metadata"]["revised_prompts"]
    assert ctx.cost == pytest.approx(3 * prices.OPENAI_IMAGE[("dall-e-3", "standard", "1024x1024")].usd)


def test_dalle3_style_and_quality_mapping(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    http.post(GENERATIONS).respond(200, json=openai_images_answer(1, url=True))
    http.get(url__startswith=CDN).respond(200, content=PNG)
    ctx, _ = make_ctx()
    provider = OpenAIDallE3Provider(cloud_settings, base_url=BASES["openai"])
    run(provider.run(ImageGenerationRequest(prompt="p", style="artistic", quality="hd", size="1024x1792"), ctx))
    body = sent(http)[0]
    assert (body["style"], body["quality"], body["size"]) == ("vivid", "hd", "1024x1792")


def test_401_is_an_authentication_failure_without_the_key(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    key = KEYS["OPENAI_API_KEY"]
    http.post(GENERATIONS).respond(
        401, json=openai_error(f"Incorrect API key provided: {key}.", code="invalid_api_key")
    )
    ctx, _ = make_ctx()
    with pytest.raises(AuthenticationFailed) as info:
        run(OpenAIImageProvider(cloud_settings, base_url=BASES["openai"]).run(ImageGenerationRequest(prompt="p"), ctx))
    assert key not in str(info.value) and key not in repr(info.value.details)


@pytest.mark.parametrize(
    ("headers", "expected"), [({"retry-after-ms": "1500"}, 1.5), ({"Retry-After": "20"}, 20.0), ({}, None)]
)
def test_429_is_rate_limited_with_the_advertised_wait(
    http: respx.MockRouter,
    cloud_settings: Settings,
    make_ctx: MakeCtx,
    headers: dict[str, str],
    expected: float,
) -> None:
    http.post(GENERATIONS).respond(
        429,
        json=openai_error("Rate limit reached for images", type_="requests", code="rate_limit_exceeded"),
        headers=headers,
    )
    ctx, _ = make_ctx()
    with pytest.raises(RateLimited) as info:
        run(OpenAIImageProvider(cloud_settings, base_url=BASES["openai"]).run(ImageGenerationRequest(prompt="p"), ctx))
    assert info.value.retry_after == expected


def test_5xx_and_timeouts_are_retryable(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    route = http.post(GENERATIONS)
    provider = OpenAIImageProvider(cloud_settings, base_url=BASES["openai"])
    route.respond(500, json=openai_error("The server had an error", type_="server_error"))
    with pytest.raises(RetryableError):
        run(provider.run(ImageGenerationRequest(prompt="p"), make_ctx()[0]))
    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(ProviderTimeout):
        run(provider.run(ImageGenerationRequest(prompt="p"), make_ctx()[0]))


@pytest.mark.parametrize("code", ["content_policy_violation", "moderation_blocked"])
def test_moderation_is_content_rejected(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, code: str
) -> None:
    http.post(GENERATIONS).respond(
        400, json=openai_error("Your request was rejected as a result of our safety system.", code=code)
    )
    ctx, _ = make_ctx()
    with pytest.raises(ContentRejected):
        run(OpenAIImageProvider(cloud_settings, base_url=BASES["openai"]).run(ImageGenerationRequest(prompt="p"), ctx))


def test_an_answer_without_images_is_retryable(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    http.post(GENERATIONS).respond(200, json={"created": 1713833628, "data": []})
    with pytest.raises(RetryableError, match="no image"):
        run(
            OpenAIImageProvider(cloud_settings, base_url=BASES["openai"]).run(
                ImageGenerationRequest(prompt="p"), make_ctx()[0]
            )
        )
