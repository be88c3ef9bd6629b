"""AssemblyAI speech-to-text: ``POST /v2/upload`` (unless the audio is at a public URL AssemblyAI can
fetch itself), ``POST /v2/transcript``, ``GET /v2/transcript/{id}`` until ``completed`` or
``error``, and ``GET /v2/transcript/{id}/srt|vtt`` for subtitle formats.

The transcript id is recorded (``start_job``) before polling, so an attempt after a crash
re-attaches to it (and does not upload the audio again). The API has no cancel call (a transcript can
only be deleted once it has finished), so a cancelled task simply stops polling. ``json`` gives
text, timed words and sentence segments built from those words; AssemblyAI's word times are
milliseconds, converted to seconds here.
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidInput, RetryableError
from ...models import AudioTranscriptionRequest, TaskRequest, TaskType
from ..base import ProviderContext
from . import prices
from .common import CloudProvider, JobFailed, is_public_url
from .http import ApiClient
from .outputs import segments_from_subtitles, segments_from_words, transcription_output

#: speech models in priority order: AssemblyAI routes to the first that supports the language
SPEECH_MODELS = ("universal-3-pro", "universal-2")


class AssemblyAITranscriptionProvider(CloudProvider):
    """Transcripts from AssemblyAI's Universal speech models."""

    name = "assemblyai"
    task_types = frozenset({TaskType.AUDIO_TRANSCRIPTION})
    quality = 0.85
    max_concurrency = 5
    timeout = 1800.0
    description = "AssemblyAI Universal speech-to-text (POST /v2/transcript); needs ASSEMBLYAI_API_KEY"
    key_setting = "assemblyai_api_key"
    key_env = "ASSEMBLYAI_API_KEY"
    default_base_url = "https://api.assemblyai.com"
    base_url_setting = "assemblyai_base_url"
    read_timeout = 300.0  # uploads of large files
    default_poll_interval = 3.0
    # AssemblyAI limits how many transcripts an account has queued or processing at once (200 on
    # paid plans, 5 on the free one: assemblyai.com/docs, "Concurrency limit"), not a request
    # rate, as published at the time of writing; max_concurrency stays well under it.
    rate_limits = None

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": key}  # AssemblyAI takes the bare key, no scheme

    def estimate_cost(self, request: TaskRequest) -> float:
        return prices.assemblyai(SPEECH_MODELS[0], prices.ASSUMED_AUDIO_MINUTES * 60)

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, AudioTranscriptionRequest)
        async with self.client(ctx) as api:

            async def create() -> tuple[str, dict[str, Any]]:
                params: dict[str, Any] = {
                    "audio_url": await self._audio_url(api, ctx, req.audio_url),
                    "speech_models": list(SPEECH_MODELS),
                    "punctuate": True,
                    "format_text": True,
                }
                if req.language:
                    params["language_code"] = req.language
                else:  # absent: AssemblyAI detects it
                    params["language_detection"] = True
                created = await api.json("POST", "/v2/transcript", json=params)
                transcript_id = str(created.get("id") or "")
                if not transcript_id:
                    raise RetryableError(f"{self.name}: the answer holds no transcript id")
                ctx.log.info("assemblyai transcript %s queued", transcript_id)
                return transcript_id, {}

            job, _ = await self.start_job(ctx, create, lambda j: self.cancel_job(api, j))
            transcript_id = job.id
            ctx.progress(0.1, "queued at AssemblyAI")
            transcript = await self.poll(
                ctx,
                lambda: self._check(api, ctx, transcript_id),
                _no_cancel_call,
                what=f"AssemblyAI transcript {transcript_id}",
            )
            content = None
            if req.response_format in ("srt", "vtt"):
                resp = await api.request("GET", f"/v2/transcript/{transcript_id}/{req.response_format}")
                content = resp.text
        duration = float(transcript["audio_duration"]) if transcript.get("audio_duration") is not None else None
        model = str(transcript.get("speech_model_used") or SPEECH_MODELS[0])
        if duration is not None:
            ctx.cost = prices.assemblyai(model, duration)
        words = [
            {
                "start": w["start"] / 1000.0,
                "end": w["end"] / 1000.0,
                "word": w["text"],
                "probability": w.get("confidence"),
            }
            for w in transcript.get("words") or []
        ]
        segments = segments_from_subtitles(content) if content else segments_from_words(words)
        metadata = {
            "provider": self.name,
            "model": model,
            "requested_model": req.model,
            "transcript_id": transcript_id,
            "confidence": transcript.get("confidence"),
        }
        return await transcription_output(
            self.storer(ctx),
            fmt=req.response_format,
            text=str(transcript.get("text") or ""),
            language=req.language or transcript.get("language_code"),
            duration=duration,
            segments=segments,
            metadata=metadata,
            content=content,
            words=words,
        )

    async def _audio_url(self, api: ApiClient, ctx: ProviderContext, url: str) -> str:
        """A URL AssemblyAI can read: a public http(s) URL as is, anything else uploaded first."""
        if is_public_url(url):
            return url
        path = await self.open_input(ctx, url)
        ctx.progress(0.02, "uploading the audio to AssemblyAI")
        uploaded = await api.json(
            "POST",
            "/v2/upload",
            content=path.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        if not uploaded.get("upload_url"):
            raise RetryableError(f"{self.name}: the upload answer holds no upload_url")
        return str(uploaded["upload_url"])

    async def _check(self, api: ApiClient, ctx: ProviderContext, transcript_id: str) -> dict[str, Any] | None:
        """One status read: the transcript once completed, ``None`` while queued or processing."""
        transcript = await api.json_or_none("GET", f"/v2/transcript/{transcript_id}")
        if transcript is None:
            raise JobFailed(RetryableError(f"{self.name}: transcript {transcript_id} no longer exists"))
        status = transcript.get("status")
        if status == "completed":
            return transcript
        if status == "error":
            message = str(transcript.get("error") or "transcription failed")
            cls = RetryableError if "internal" in message.lower() else InvalidInput
            raise JobFailed(cls(f"{self.name}: {message}"))
        if status == "processing":
            ctx.progress(0.4, "processing at AssemblyAI")
        return None


async def _no_cancel_call() -> None:
    """AssemblyAI cannot cancel a queued or processing transcript; there is nothing to send."""
