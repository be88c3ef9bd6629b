"""OpenAI speech-to-text: ``POST /v1/audio/transcriptions`` (multipart) with ``whisper-1``.

``json`` asks for ``verbose_json`` so the transcript comes with timed segments; ``text``, ``srt``
and ``vtt`` are returned as Whisper writes them. The API refuses files over 25 MB, so the size is
checked before anything is uploaded.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ...errors import InvalidInput
from ...models import AudioTranscriptionRequest, TaskRequest, TaskType
from ..base import ProviderContext
from ..limits import RateLimits
from . import prices
from .common import CloudProvider
from .http import json_body
from .outputs import segments_from_subtitles, transcription_output

#: the API's upload limit
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MODEL = "whisper-1"


class OpenAITranscriptionProvider(CloudProvider):
    """Transcripts from OpenAI Whisper."""

    name = "openai-whisper"
    task_types = frozenset({TaskType.AUDIO_TRANSCRIPTION})
    quality = 0.8
    max_concurrency = 4
    timeout = 600.0
    description = "OpenAI whisper-1 (POST /v1/audio/transcriptions, files up to 25 MB); needs OPENAI_API_KEY"
    key_setting = "openai_api_key"
    key_env = "OPENAI_API_KEY"
    default_base_url = "https://api.openai.com/v1"
    base_url_setting = "openai_base_url"
    read_timeout = 300.0
    # Limits below: OpenAI's usage tier 1, as published at the time of writing
    # (platform.openai.com/docs/guides/rate-limits and each model's page; written from memory of
    # those pages, no network here). Higher tiers allow more: set VIDEOAI_PROVIDER_RATE_LIMITS.
    rate_limits = RateLimits(requests=500, source="OpenAI usage tier 1: whisper-1, 500 requests per minute")

    def estimate_cost(self, request: TaskRequest) -> float:
        return prices.whisper(prices.ASSUMED_AUDIO_MINUTES * 60)

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, AudioTranscriptionRequest)
        path = await self.open_input(ctx, req.audio_url, MAX_UPLOAD_BYTES)
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InvalidInput(f"{self.name}: audio is {size} bytes, over the API's 25 MB limit")
        filename = _filename(path, req.audio_url)
        api_format = "verbose_json" if req.response_format == "json" else req.response_format
        form = {"model": MODEL, "response_format": api_format}
        if req.language:  # absent: the API detects it
            form["language"] = req.language
        files = {"file": (filename, path.read_bytes(), mimetypes.guess_type(filename)[0] or "audio/mpeg")}
        ctx.progress(0.1, f"uploading {size} bytes to {MODEL}")
        async with self.client(ctx) as api:
            resp = await api.request("POST", "/audio/transcriptions", data=form, files=files)
        ctx.progress(0.9, "transcribed")
        metadata: dict[str, Any] = {"provider": self.name, "model": MODEL, "requested_model": req.model}
        store = self.storer(ctx)
        if req.response_format == "json":
            body = json_body(resp, self.name)
            duration = _float(body.get("duration"))
            usage = body.get("usage")
            billed = (_float(usage.get("seconds")) if isinstance(usage, dict) else None) or duration
            if billed is not None:
                ctx.cost = prices.whisper(billed)
            segments = [
                {"id": s.get("id", i), "start": s["start"], "end": s["end"], "text": str(s["text"]).strip()}
                for i, s in enumerate(body.get("segments") or [])
            ]
            metadata["detected_language"] = body.get("language")
            return await transcription_output(
                store,
                fmt="json",
                text=str(body.get("text", "")).strip(),
                language=req.language or body.get("language"),
                duration=duration,
                segments=segments,
                words=[],
                metadata=metadata,
            )
        content = resp.text
        segments = segments_from_subtitles(content) if req.response_format in ("srt", "vtt") else []
        text = " ".join(s["text"] for s in segments) if segments else content.strip()
        duration = segments[-1]["end"] if segments else None
        if duration is not None:  # the last cue's end: a lower bound of the billed length
            ctx.cost = prices.whisper(duration)
        return await transcription_output(
            store,
            fmt=req.response_format,
            text=text,
            language=req.language,
            duration=duration,
            segments=segments,
            words=[],
            metadata=metadata,
            content=content,
        )


def _filename(path: Path, url: str) -> str:
    """A file name with an audio extension: the API identifies the format by it."""
    suffix = path.suffix or Path(unquote(urlparse(url).path)).suffix or ".mp3"
    return f"audio{suffix}"


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
