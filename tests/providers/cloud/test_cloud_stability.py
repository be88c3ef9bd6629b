"""Stability AI Stable Image Core against a fake that speaks its documented protocol: a multipart
form in, image bytes with ``finish-reason`` / ``seed`` headers out (or base64 JSON), and its
``{"id", "name", "errors"}`` error bodies."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, KEYS, PNG, artifact_bytes, multipart_fields

from videoai_ray.errors import (
    AuthenticationFailed,
    ContentRejected,
    InvalidInput,
    RateLimited,
    RetryableError,
)
from videoai_ray.models import ImageGenerationRequest
from videoai_ray.providers.cloud import StabilityImageProvider, prices
from videoai_ray.settings import Settings

CORE = BASES["stability"] + "/v2beta/stable-image/generate/core"


def image(seed: int = 42, finish: str = "SUCCESS") -> httpx.Response:
    return httpx.Response(
        200, content=PNG, headers={"content-type": "image/png", "finish-reason": finish, "seed": str(seed)}
    )


def error(status: int, name: str, message: str, **headers: str) -> httpx.Response:
    body = {"id": "a1b2c3d4e5f6", "name": name, "errors": [message]}
    return httpx.Response(status, json=body, headers=headers)


def provider(settings: Settings) -> StabilityImageProvider:
    return StabilityImageProvider(settings, base_url=BASES["stability"])


def test_one_multipart_request_per_image_with_successive_seeds(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    route = http.post(CORE).mock(side_effect=[image(7), image(8)])
    ctx, rec = make_ctx()
    request = ImageGenerationRequest(prompt="a red fox", style="anime", size="1024x1792", n=2, seed=7)
    out = run(provider(cloud_settings).run(request, ctx))
    assert route.call_count == 2
    first = route.calls[0].request
    assert first.headers["authorization"] == f"Bearer {KEYS['STABILITY_API_KEY']}"
    assert first.headers["accept"] == "image/*"
    assert first.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b"filename=" not in first.content  # plain form fields, no file
    fields = [multipart_fields(c.request) for c in route.calls]
    assert {k: fields[0][k] for k in ("prompt", "aspect_ratio", "style_preset", "output_format")} == {
        "prompt": "a red fox",
        "aspect_ratio": "9:16",
        "style_preset": "anime",
        "output_format": "png",
    }
    assert sorted(f["seed"] for f in fields) == ["7", "8"]
    assert [artifact_bytes(i["url"]) for i in out["images"]] == [PNG, PNG]
    assert sorted(out["metadata"]["seeds"]) == [7, 8]
    assert ctx.cost == pytest.approx(2 * prices.STABILITY_CORE.usd)
    assert rec.values[-1] == 1.0


def test_a_json_answer_with_base64_is_accepted(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    body = {"image": base64.b64encode(PNG).decode(), "finish_reason": "SUCCESS", "seed": 3}
    http.post(CORE).respond(200, json=body)
    out = run(provider(cloud_settings).run(ImageGenerationRequest(prompt="p"), make_ctx()[0]))
    assert artifact_bytes(out["image_url"]) == PNG and out["metadata"]["seeds"] == [3]


@pytest.mark.parametrize(
    "answer",
    [
        image(finish="CONTENT_FILTERED"),
        httpx.Response(200, json={"image": "", "finish_reason": "CONTENT_FILTERED", "seed": 1}),
        error(403, "content_moderation", "Your request was flagged by our content moderation system."),
    ],
)
def test_moderation_is_content_rejected(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, answer: httpx.Response
) -> None:
    http.post(CORE).mock(return_value=answer)
    with pytest.raises(ContentRejected):
        run(provider(cloud_settings).run(ImageGenerationRequest(prompt="p"), make_ctx()[0]))


def test_errors_are_classified(http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx) -> None:
    route = http.post(CORE)
    p = provider(cloud_settings)
    request = ImageGenerationRequest(prompt="p")
    route.mock(return_value=error(401, "unauthorized", "missing authorization header"))
    with pytest.raises(AuthenticationFailed):
        run(p.run(request, make_ctx()[0]))
    route.mock(return_value=error(400, "bad_request", "prompt: cannot be empty"))
    with pytest.raises(InvalidInput):
        run(p.run(request, make_ctx()[0]))
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    route.mock(
        return_value=error(429, "rate_limit_exceeded", "You have exceeded the rate limit", **{"Retry-After": later})
    )
    with pytest.raises(RateLimited) as info:
        run(p.run(request, make_ctx()[0]))
    assert 5 <= (info.value.retry_after or 0) <= 10
    route.mock(return_value=error(500, "internal_error", "An unexpected server error occurred"))
    with pytest.raises(RetryableError):
        run(p.run(request, make_ctx()[0]))
