"""The four request bodies, exactly as the seed's API reference gives them, plus task options.

Every body rejects unknown fields, so a typo is an error naming the field rather than an option
silently ignored. ``split()`` separates the media input (what a provider sees and the cache key
is built from) from the options (priority, webhook, metadata, cache and routing switches), which
never change the output.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .enums import EventType, Priority, Strategy, TaskType

_OPTION_FIELDS = frozenset(
    {"webhook_url", "webhook_secret", "webhook_events", "priority", "metadata", "use_cache", "provider",
     "strategy"}
)


class TaskRequest(BaseModel):
    """Fields every task body accepts besides its media input."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    #: where to POST the task's events (seed webhook system)
    webhook_url: str | None = Field(default=None, max_length=2048)
    #: signs each delivery (``X-Webhook-Signature: sha256=...``); never returned by the API
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=256, repr=False)
    #: which events to deliver; terminal events are always delivered
    webhook_events: list[EventType] | None = None
    priority: Priority = Priority.MEDIUM
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: ``False`` skips the result cache for this task
    use_cache: bool = True
    #: pin the task to one registered provider by name
    provider: str | None = Field(default=None, max_length=100)
    #: override the default provider selection strategy
    strategy: Strategy | None = None

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return v

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, v: dict[str, Any]) -> dict[str, Any]:
        if len(repr(v)) > 16_384:
            raise ValueError("must be at most 16 KiB")
        return v

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(media input, options)`` from one dump (a filtered dump costs more than a full one)."""
        data = self.model_dump(mode="json")
        return data, {name: data.pop(name) for name in _OPTION_FIELDS}


class ImageGenerationRequest(TaskRequest):
    """``POST /api/v1/media/images/generate``"""

    prompt: str = Field(min_length=1, max_length=4000)
    style: Literal["realistic", "artistic", "anime"] = "realistic"
    size: Literal["512x512", "1024x1024", "1024x1792"] = "1024x1024"
    quality: Literal["standard", "hd"] = "standard"
    n: int = Field(default=1, ge=1, le=10)
    #: makes procedural output reproducible; not in the seed, optional
    seed: int | None = None


class VideoGenerationRequest(TaskRequest):
    """``POST /api/v1/media/videos/generate``"""

    prompt: str = Field(min_length=1, max_length=4000)
    duration: int = Field(default=5, ge=1, le=60)
    style: Literal["cinematic", "documentary", "artistic"] = "cinematic"
    fps: int = Field(default=24, ge=1, le=60)
    resolution: Literal["720p", "1080p", "4k"] = "720p"
    #: optional first frame (image-to-video); not in the seed, optional
    image_url: str | None = Field(default=None, max_length=2048)


class AudioTranscriptionRequest(TaskRequest):
    """``POST /api/v1/media/audio/transcribe``"""

    audio_url: str = Field(min_length=1, max_length=2048)
    #: the spoken language; ``None`` (absent): the provider detects it
    language: Literal["pt", "en", "es", "fr"] | None = None
    model: Literal["whisper-1", "best"] = "whisper-1"
    response_format: Literal["json", "text", "srt", "vtt"] = "json"

    @field_validator("audio_url")
    @classmethod
    def _audio_url(cls, v: str) -> str:
        scheme = urlparse(v).scheme
        if scheme not in ("http", "https", "file", "artifact", "s3", "gs", "memory"):
            raise ValueError("must be an http(s) URL (or, from the SDK, a local file)")
        return v


class Cue(BaseModel):
    """One subtitle cue for ``timing_mode="manual"`` (seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    text: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Cue:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SubtitleGenerationRequest(TaskRequest):
    """``POST /api/v1/media/subtitles/generate``"""

    text: str = Field(min_length=1, max_length=200_000)
    target_language: Literal["en", "es", "fr", "de"] = "en"
    #: language of ``text``; ``None`` means it is already in ``target_language`` (no translation)
    source_language: Literal["en", "es", "fr", "de", "pt"] | None = None
    format: Literal["srt", "vtt", "ass"] = "srt"
    timing_mode: Literal["auto", "manual"] = "auto"
    #: the timings for ``timing_mode="manual"``; cue text defaults to the lines of ``text``
    cues: list[Cue] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _manual_needs_cues(self) -> SubtitleGenerationRequest:
        if self.timing_mode == "manual":
            if not self.cues:
                raise ValueError("cues: timing_mode 'manual' needs cues with start and end times")
            if any(c.text is None for c in self.cues):
                lines = [ln for ln in self.text.splitlines() if ln.strip()]
                if len(lines) != len(self.cues):
                    raise ValueError(
                        f"cues: {len(self.cues)} cues without text need as many non-empty lines "
                        f"in text, found {len(lines)}"
                    )
        elif self.cues is not None:
            raise ValueError("cues: only allowed with timing_mode 'manual'")
        return self

    @property
    def needs_translation(self) -> bool:
        return self.source_language is not None and self.source_language != self.target_language


REQUEST_MODELS: dict[TaskType, type[TaskRequest]] = {
    TaskType.IMAGE_GENERATION: ImageGenerationRequest,
    TaskType.VIDEO_GENERATION: VideoGenerationRequest,
    TaskType.AUDIO_TRANSCRIPTION: AudioTranscriptionRequest,
    TaskType.SUBTITLE_GENERATION: SubtitleGenerationRequest,
}

MAX_HTTP_BATCH = 50


class BatchItem(BaseModel):
    """One entry of ``POST /batch`` (seed): a task type, its body, and an optional priority."""

    model_config = ConfigDict(extra="forbid")

    task_type: TaskType
    input_data: dict[str, Any]
    priority: Priority | None = None
