"""OpenAI image generation: ``POST /v1/images/generations`` with ``gpt-image-1`` or ``dall-e-3``.

The VideoAI API contract's size / quality / style / n are mapped onto what each model accepts. DALL-E 3 makes
one image per request (``n=1`` only), so ``n`` images are ``n`` requests run side by side and
answer with URLs, which are downloaded; the GPT image models take ``n`` and answer base64.
Neither model takes a seed, so ``seed`` is recorded but has no effect.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from ...errors import RetryableError
from ...models import ImageGenerationRequest, TaskRequest, TaskType
from ..base import ProviderContext
from ..limits import RateLimits
from . import prices
from .common import CloudProvider, gather_limited

#: contract size -> the nearest size each model accepts (neither makes 512x512)
_SIZES: dict[str, dict[str, str]] = {
    "dall-e-3": {"512x512": "1024x1024", "1024x1024": "1024x1024", "1024x1792": "1024x1792"},
    "gpt-image-1": {"512x512": "1024x1024", "1024x1024": "1024x1024", "1024x1792": "1024x1536"},
}
#: contract quality -> model quality
_QUALITIES: dict[str, dict[str, str]] = {
    "dall-e-3": {"standard": "standard", "hd": "hd"},
    "gpt-image-1": {"standard": "medium", "hd": "high"},
}
#: contract style -> words added to the prompt (DALL-E 3 also gets its own ``style`` parameter)
_STYLE_HINTS = {"realistic": "photorealistic", "artistic": "artistic illustration", "anime": "anime style"}
_DALLE3_PROMPT_LIMIT = 4000


class OpenAIImageProvider(CloudProvider):
    """Images from OpenAI's GPT image model."""

    name = "openai-gpt-image"
    #: the ``model`` sent to the API; subclasses switch it
    model: ClassVar[str] = "gpt-image-1"
    task_types = frozenset({TaskType.IMAGE_GENERATION})
    quality = 0.9
    max_concurrency = 4
    timeout = 300.0
    description = "OpenAI gpt-image-1 (POST /v1/images/generations); needs OPENAI_API_KEY"
    key_setting = "openai_api_key"
    key_env = "OPENAI_API_KEY"
    default_base_url = "https://api.openai.com/v1"
    base_url_setting = "openai_base_url"
    read_timeout = 180.0
    # Limits below: OpenAI's usage tier 1, as published at the time of writing
    # (platform.openai.com/docs/guides/rate-limits and each model's page; written from memory of
    # those pages, no network here). Higher tiers allow more: set VIDEOAI_PROVIDER_RATE_LIMITS.
    rate_limits = RateLimits(requests=5, source="OpenAI usage tier 1: gpt-image-1, 5 images per minute")
    #: DALL-E 3 requests in flight at once for one task asking for several images
    fan_out: ClassVar[int] = 4

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        # OpenAI counts image models in images per minute: ``n`` images are ``n`` of them
        return {"requests": float(request.n if isinstance(request, ImageGenerationRequest) else 1)}

    def body(self, req: ImageGenerationRequest) -> dict[str, Any]:
        """The documented request body for this model."""
        size = _SIZES[self.model][req.size]
        quality = _QUALITIES[self.model][req.quality]
        if self.model == "dall-e-3":
            prompt = req.prompt if req.style != "anime" else f"{req.prompt}, {_STYLE_HINTS['anime']}"
            return {
                "model": self.model,
                "prompt": prompt[:_DALLE3_PROMPT_LIMIT],
                "n": 1,
                "size": size,
                "quality": quality,
                "style": "natural" if req.style == "realistic" else "vivid",
                "response_format": "url",
            }
        return {
            "model": self.model,
            "prompt": f"{req.prompt}, {_STYLE_HINTS[req.style]}",
            "n": req.n,
            "size": size,
            "quality": quality,
            "output_format": "png",
        }

    def estimate_cost(self, request: TaskRequest) -> float:
        if not isinstance(request, ImageGenerationRequest):
            return 0.0
        body = self.body(request)
        return prices.openai_image(self.model, body["quality"], body["size"]) * request.n

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, ImageGenerationRequest)
        body = self.body(req)
        calls = req.n if self.model == "dall-e-3" else 1
        ctx.progress(0.05, f"requesting {req.n} image(s) from {self.model}")
        async with self.client(ctx) as api:
            answers = await gather_limited(
                [lambda: api.json("POST", "/images/generations", json=body) for _ in range(calls)],
                self.fan_out,
            )
        items = [item for answer in answers for item in answer.get("data") or []]
        if not items:
            raise RetryableError(f"{self.name}: the answer holds no image")
        images: list[dict[str, Any]] = []
        for i, item in enumerate(items, 1):
            images.append(await self._save(ctx, item, f"image_{i}.png"))
            ctx.progress(0.1 + 0.9 * i / len(items), f"stored image {i} of {len(items)}")
        ctx.cost = self._actual_cost(body, answers, len(items))
        revised = [item["revised_prompt"] for item in items if item.get("revised_prompt")]
        return {
            "image_url": images[0]["url"],
            "images": images,
            "metadata": {
                "provider": self.name,
                "model": self.model,
                "size": body["size"],
                "requested_size": req.size,
                "quality": body["quality"],
                "style": body.get("style", req.style),
                "revised_prompts": revised,
                "seed_ignored": req.seed is not None,
            },
        }

    async def _save(self, ctx: ProviderContext, item: dict[str, Any], name: str) -> dict[str, Any]:
        """Store one generated image, given as base64 or as a URL to download."""
        if item.get("b64_json"):
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError) as e:
                raise RetryableError(f"{self.name}: image is not valid base64") from e
            return await self.store(ctx, name, data, "image/png")
        if item.get("url"):
            return await self.fetch_output(ctx, str(item["url"]), name, "image/png")
        raise RetryableError(f"{self.name}: image has neither b64_json nor url")

    def _actual_cost(self, body: dict[str, Any], answers: list[dict[str, Any]], count: int) -> float:
        """From the answers' token ``usage`` when the model bills tokens, else the price list."""
        token_prices = prices.OPENAI_IMAGE_TOKENS.get(self.model)
        usages = [a["usage"] for a in answers if isinstance(a.get("usage"), dict)]
        if token_prices and usages:
            inputs = sum(float(u.get("input_tokens") or 0) for u in usages)
            outputs = sum(float(u.get("output_tokens") or 0) for u in usages)
            return prices.tokens_cost(token_prices, inputs, outputs)
        return prices.openai_image(self.model, body["quality"], body["size"]) * count


class OpenAIDallE3Provider(OpenAIImageProvider):
    """Images from DALL-E 3 (one request per image)."""

    name = "openai-dall-e-3"
    model = "dall-e-3"
    quality = 0.85
    description = "OpenAI DALL-E 3 (POST /v1/images/generations); needs OPENAI_API_KEY"
    rate_limits = RateLimits(requests=500, source="OpenAI usage tier 1: dall-e-3, 500 images per minute")
