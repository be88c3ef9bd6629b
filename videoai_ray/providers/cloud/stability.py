"""Stability AI images: ``POST /v2beta/stable-image/generate/core`` (Stable Image Core).

The endpoint takes a multipart form even without a file and, with ``Accept: image/*``, answers
the image bytes with ``finish-reason`` and ``seed`` headers; ``CONTENT_FILTERED`` there means the
moderation replaced the output, which is a rejection, not an image. One image per request, so
``n`` images are ``n`` requests (seeds ``seed``, ``seed + 1``, ... when a seed is given).
"""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from ...errors import ContentRejected, RetryableError
from ...models import ImageGenerationRequest, TaskRequest, TaskType
from ..base import ProviderContext
from ..limits import RateLimits
from . import prices
from .common import CloudProvider, gather_limited
from .http import ApiClient, json_body

PATH = "/v2beta/stable-image/generate/core"
_ASPECT_RATIOS = {"512x512": "1:1", "1024x1024": "1:1", "1024x1792": "9:16"}
_STYLE_PRESETS = {"realistic": "photographic", "artistic": "digital-art", "anime": "anime"}
_MAX_SEED = 4_294_967_294


class StabilityImageProvider(CloudProvider):
    """Images from Stability AI's Stable Image Core."""

    name = "stability-core"
    task_types = frozenset({TaskType.IMAGE_GENERATION})
    quality = 0.8
    max_concurrency = 8
    timeout = 180.0
    description = "Stability AI Stable Image Core (POST /v2beta/stable-image/generate/core); needs STABILITY_API_KEY"
    key_setting = "stability_api_key"
    key_env = "STABILITY_API_KEY"
    default_base_url = "https://api.stability.ai"
    base_url_setting = "stability_api_host"
    read_timeout = 90.0
    # "150 requests within a 10 second period" per account, then a 429 and a 60 s timeout
    # (platform.stability.ai/docs, rate limits), as published at the time of writing
    rate_limits = RateLimits(requests=150, per_seconds=10, source="Stability AI: 150 requests per 10 seconds")
    fan_out = 4

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        return {"requests": float(request.n if isinstance(request, ImageGenerationRequest) else 1)}

    def estimate_cost(self, request: TaskRequest) -> float:
        n = request.n if isinstance(request, ImageGenerationRequest) else 1
        return prices.STABILITY_CORE.usd * n

    def form(self, req: ImageGenerationRequest, index: int) -> dict[str, Any]:
        """The multipart fields of image ``index`` (every field a part without a file name)."""
        fields = {
            "prompt": req.prompt,
            "aspect_ratio": _ASPECT_RATIOS[req.size],
            "style_preset": _STYLE_PRESETS[req.style],
            "output_format": "png",
        }
        if req.seed is not None:
            fields["seed"] = str((req.seed + index) % (_MAX_SEED + 1))
        return {key: (None, value) for key, value in fields.items()}

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, ImageGenerationRequest)
        ctx.progress(0.05, f"requesting {req.n} image(s)")
        async with self.client(ctx, headers={"Accept": "image/*"}) as api:
            results = await gather_limited([partial(self._generate, api, req, i) for i in range(req.n)], self.fan_out)
        images: list[dict[str, Any]] = []
        for i, (data, _) in enumerate(results, 1):
            images.append(await self.store(ctx, f"image_{i}.png", data, "image/png"))
            ctx.progress(0.1 + 0.9 * i / req.n, f"stored image {i} of {req.n}")
        ctx.cost = prices.STABILITY_CORE.usd * len(images)
        return {
            "image_url": images[0]["url"],
            "images": images,
            "metadata": {
                "provider": self.name,
                "model": "stable-image-core",
                "aspect_ratio": _ASPECT_RATIOS[req.size],
                "requested_size": req.size,
                "style_preset": _STYLE_PRESETS[req.style],
                "seeds": [seed for _, seed in results],
                "quality_ignored": req.quality != "standard",
            },
        }

    async def _generate(self, api: ApiClient, req: ImageGenerationRequest, index: int) -> tuple[bytes, int | None]:
        """One image and its seed; a filtered output raises ContentRejected."""
        resp = await api.request("POST", PATH, files=self.form(req, index))
        if resp.headers.get("content-type", "").startswith("application/json"):
            body = json_body(resp, self.name)
            finish, seed, encoded = body.get("finish_reason"), body.get("seed"), body.get("image") or ""
            data = base64.b64decode(encoded) if encoded else b""
        else:
            finish, seed, data = resp.headers.get("finish-reason"), resp.headers.get("seed"), resp.content
        if finish == "CONTENT_FILTERED":
            raise ContentRejected(f"{self.name}: the output was filtered by Stability AI's moderation")
        if not data:
            raise RetryableError(f"{self.name}: empty image (finish reason {finish})")
        seed_text = str(seed or "")
        return data, int(seed_text) if seed_text.isdigit() else None
