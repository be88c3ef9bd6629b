"""Translated subtitles with OpenAI: ``POST /v1/chat/completions`` with a JSON-schema answer.

The text is cut into cues the way ``local-subtitles`` does (``local._subformat.segment``), the
cues are translated in batches, one structured call per batch that must answer one translation
per cue id, and the result is timed by reading speed (``auto``) or keeps the request's timings
(``manual``). This provider only takes requests that need a translation; the local subtitle
provider writes the others for free.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any, ClassVar

from ...errors import ContentRejected, InvalidInput, RetryableError
from ...models import SubtitleGenerationRequest, TaskRequest, TaskType
from ..base import ProviderContext
from ..limits import RateLimits
from ..local._subformat import TimedCue, normalise, segment
from . import prices
from .common import CloudProvider, gather_limited
from .http import ApiClient
from .outputs import display_lines, subtitle_output, timed_cues

LANGUAGES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese"}

_SYSTEM = (
    "You translate subtitle cues from {source} to {target}. Translate each cue on its own, keep "
    "its meaning and tone, keep it about as short as the original so it can be read in the same "
    "time, and answer with exactly one translation for every input id."
)
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                "required": ["id", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["cues"],
    "additionalProperties": False,
}


class OpenAISubtitleProvider(CloudProvider):
    """Subtitles translated by an OpenAI chat model."""

    name = "openai-subtitles"
    task_types = frozenset({TaskType.SUBTITLE_GENERATION})
    quality = 0.8
    max_concurrency = 8
    timeout = 600.0
    translates = True
    description = "Subtitles translated with OpenAI gpt-4o-mini (POST /v1/chat/completions); needs OPENAI_API_KEY"
    key_setting = "openai_api_key"
    key_env = "OPENAI_API_KEY"
    default_base_url = "https://api.openai.com/v1"
    base_url_setting = "openai_base_url"
    read_timeout = 120.0
    # Limits below: OpenAI's usage tier 1, as published at the time of writing
    # (platform.openai.com/docs/guides/rate-limits and each model's page; written from memory of
    # those pages, no network here). Higher tiers allow more: set VIDEOAI_PROVIDER_RATE_LIMITS.
    rate_limits = RateLimits(requests=500, tokens=200_000,
                             source="OpenAI usage tier 1: gpt-4o-mini, 500 requests and 200,000 tokens per minute")
    #: cues per chat call, and chat calls in flight at once for one task
    batch_size: ClassVar[int] = 50
    parallel_calls: ClassVar[int] = 4

    def __init__(self, *args: Any, model: str = "gpt-4o-mini", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model = model

    def supports(self, request: TaskRequest) -> bool:
        return isinstance(request, SubtitleGenerationRequest) and request.needs_translation

    def estimate_cost(self, request: TaskRequest) -> float:
        if not isinstance(request, SubtitleGenerationRequest) or not request.needs_translation:
            return 0.0
        tokens = len(request.text) / prices.CHARS_PER_TOKEN
        overhead = 200 * (1 + len(request.text) // 2000)  # instructions and JSON per batch
        return prices.tokens_cost(self._prices(), tokens * 1.5 + overhead, tokens * 1.5)

    def _prices(self) -> tuple[prices.Price, prices.Price]:
        return prices.OPENAI_CHAT.get(self.model, prices.OPENAI_CHAT["gpt-4.1-mini"])

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        """One chat call per ``batch_size`` cues; tokens estimated at 4 characters each, for the
        text sent and the translation answered, plus the instructions of each call."""
        if not isinstance(request, SubtitleGenerationRequest):
            return {}
        chars = len(request.text) + sum(len(c.text or "") for c in request.cues or [])
        calls = max(1, math.ceil(max(1, len(request.cues or [])) / self.batch_size), math.ceil(chars / 8000))
        return {"requests": float(calls), "tokens": chars / 4 * 2 + 400.0 * calls}

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, SubtitleGenerationRequest)
        manual = req.timing_mode == "manual" and bool(req.cues)
        if manual:
            lines = iter([ln for ln in req.text.splitlines() if ln.strip()])
            texts = [normalise(c.text if c.text is not None else next(lines)) for c in req.cues or []]
        else:
            texts = segment(req.text)
        if not any(texts):
            raise InvalidInput("text has nothing to show as subtitles", field="text")
        usage = [0.0, 0.0]
        if req.needs_translation:
            source, target = LANGUAGES[req.source_language or "en"], LANGUAGES[req.target_language]
            texts = await self._translate(ctx, texts, source, target, usage)
        if manual:
            cues = [
                TimedCue(c.start, c.end, display_lines(t))
                for c, t in zip(req.cues or [], texts, strict=True)
                if t.strip()
            ]
        else:
            cues = timed_cues(texts)
        ctx.cost = prices.tokens_cost(self._prices(), usage[0], usage[1])
        metadata = {
            "provider": self.name,
            "model": self.model if req.needs_translation else None,
            "language": req.target_language,
            "source_language": req.source_language,
            "timing_mode": req.timing_mode,
            "translated": req.needs_translation,
        }
        return await subtitle_output(self.storer(ctx), cues, req.format, metadata)

    async def _translate(
        self, ctx: ProviderContext, texts: list[str], source: str, target: str, usage: list[float]
    ) -> list[str]:
        """Every cue translated, in order; batches run a few at a time."""
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        done = 0

        async def one(api: ApiClient, batch: list[str]) -> list[str]:
            nonlocal done
            translated = await self._translate_batch(api, batch, source, target, usage)
            done += 1
            ctx.progress(0.05 + 0.85 * done / len(batches), f"translated batch {done} of {len(batches)}")
            return translated

        async with self.client(ctx) as api:
            results = await gather_limited([partial(one, api, batch) for batch in batches], self.parallel_calls)
        return [text for batch in results for text in batch]

    async def _translate_batch(
        self, api: ApiClient, batch: list[str], source: str, target: str, usage: list[float]
    ) -> list[str]:
        """One structured call: ``{"cues": [{"id", "text"}]}`` in, the same ids translated out."""
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": _SYSTEM.format(source=source, target=target)},
                {
                    "role": "user",
                    "content": json.dumps({"cues": [{"id": i, "text": t} for i, t in enumerate(batch)]}),
                },
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "subtitle_cues", "strict": True, "schema": _SCHEMA},
            },
        }
        answer = await api.json("POST", "/chat/completions", json=body)
        tokens = answer.get("usage") or {}
        usage[0] += float(tokens.get("prompt_tokens") or 0)
        usage[1] += float(tokens.get("completion_tokens") or 0)
        choice = (answer.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        if message.get("refusal") or choice.get("finish_reason") == "content_filter":
            raise ContentRejected(f"{self.name}: the model refused to translate: {message.get('refusal') or ''}")
        if choice.get("finish_reason") == "length":
            raise RetryableError(f"{self.name}: the translation was cut off (output token limit)")
        try:
            cues = json.loads(message.get("content") or "")["cues"]
            by_id = {int(c["id"]): str(c["text"]) for c in cues}
        except (ValueError, KeyError, TypeError) as e:
            raise RetryableError(f"{self.name}: the answer is not the requested JSON") from e
        if sorted(by_id) != list(range(len(batch))):
            raise RetryableError(f"{self.name}: {len(by_id)} translations for {len(batch)} cues")
        return [by_id[i] for i in range(len(batch))]
