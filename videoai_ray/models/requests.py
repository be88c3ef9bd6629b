"""The four request bodies, exactly as the VideoAI API contract gives them, plus task options.

Every body rejects unknown fields, so a typo is an error naming the field rather than an option
silently ignored. ``split()`` separates the media input (what a provider sees and the cache key
is built from) from the options (priority, webhook, metadata, cache and routing switches), which
never change the output.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .enums import EventType, Priority, Strategy, TaskType

#: an input file the SDK uploaded: resolved by the worker only under the task owner's own prefix
UPLOAD_REF = re.compile(r"^upload://([0-9a-f]{32})/([A-Za-z0-9._-]{1,200})$")
#: validation context of bodies that arrive over HTTP (no upload references there)
HTTP_CONTEXT = {"source": "http"}
#: validation context where inputs under granted roots are admitted (the caller checks the grant)
ROOTS_CONTEXT = {"roots": True}
#: deepest nesting accepted in ``metadata`` (containers inside containers)
MAX_METADATA_DEPTH = 16
#: longest subtitle timeline accepted, in seconds (cue times beyond it are refused at the edge)
MAX_CUE_SECONDS = 24 * 3600.0


def check_input_url(value: str, info: ValidationInfo) -> str:
    """The one URL policy of every field that names an input: an absolute ``http``/``https`` URL
    (its address is checked by the network guard at submit and again at fetch), or, outside HTTP
    requests, an SDK upload reference. A storage URL or local path only where the validation
    context says input roots apply (``roots``): then it must be in canonical form here, and the
    caller checks it against the roots granted to the task's user (``inputs.py``)."""
    context = info.context or {}
    if UPLOAD_REF.match(value) and context.get("source") != "http":
        return value
    if context.get("roots") and not value.lower().startswith(("http://", "https://", "upload://")):
        from ..inputs import InputRefused, canonical

        try:
            canonical(value)
        except InputRefused as e:
            raise ValueError(str(e)) from None
        return value
    try:
        parsed = urlparse(value)
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an absolute http:// or https:// URL (local files: upload them with the SDK)")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError("must not carry a user name or password")
    return value


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply containers nest in ``value`` (``{}`` is 1), counted without recursion and
    stopping once past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_metadata(v: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` that nests at most ``MAX_METADATA_DEPTH`` levels and is at most 16 KiB."""
    if nesting_depth(v, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise ValueError(f"must nest at most {MAX_METADATA_DEPTH} levels deep")
    if len(repr(v)) > 16_384:
        raise ValueError("must be at most 16 KiB")
    return v


_OPTION_FIELDS = frozenset(
    {"webhook_url", "webhook_secret", "webhook_events", "priority", "metadata", "use_cache", "provider",
     "strategy"}
)


class TaskRequest(BaseModel):
    """Fields every task body accepts besides its media input.

    A field that names an input file goes in ``input_url_fields``: it then follows the one URL
    policy (``check_input_url`` here, the network guard at submit, the worker's check at fetch).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    #: the fields that name an input to fetch
    input_url_fields: ClassVar[tuple[str, ...]] = ()
    #: optional inputs a provider must declare it honours (``Provider.honours``) to be chosen
    optional_inputs: ClassVar[tuple[str, ...]] = ()

    #: where to POST the task's events (the VideoAI API contract's webhook system)
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
        return check_metadata(v)

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(media input, options)`` from one dump (a filtered dump costs more than a full one).
        An optional ``model`` left out stays out of the input (the stored input, and the cache
        key, are what they were before requests had one)."""
        data = self.model_dump(mode="json")
        if "model" in data and data["model"] is None:
            del data["model"]
        return data, {name: data.pop(name) for name in _OPTION_FIELDS}


#: a ``model`` a request may name: ``whisper-1``, ``best`` or a catalogue entry (``catalogue.spec``)
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class ImageGenerationRequest(TaskRequest):
    """``POST /api/v1/media/images/generate``"""

    prompt: str = Field(min_length=1, max_length=4000)
    style: Literal["realistic", "artistic", "anime"] = "realistic"
    size: Literal["512x512", "1024x1024", "1024x1792"] = "1024x1024"
    quality: Literal["standard", "hd"] = "standard"
    n: int = Field(default=1, ge=1, le=10)
    #: makes procedural output reproducible; not in the VideoAI API contract, optional
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    #: a model catalogue entry's name (served by ``local-diffusers``); absent: the provider's own
    model: str | None = Field(default=None, pattern=MODEL_NAME_PATTERN)


class VideoGenerationRequest(TaskRequest):
    """``POST /api/v1/media/videos/generate``"""

    prompt: str = Field(min_length=1, max_length=4000)
    duration: int = Field(default=5, ge=1, le=60)
    style: Literal["cinematic", "documentary", "artistic"] = "cinematic"
    fps: int = Field(default=24, ge=1, le=60)
    resolution: Literal["720p", "1080p", "4k"] = "720p"
    input_url_fields: ClassVar[tuple[str, ...]] = ("image_url", "audio_url", "subtitles_url")
    #: optional inputs only some providers honour: the others refuse a request that sets one
    #: (``Provider.honours``), so nothing is silently dropped
    optional_inputs: ClassVar[tuple[str, ...]] = ("audio_url", "subtitles_url", "model")

    #: optional first frame (image-to-video); not in the VideoAI API contract, optional
    image_url: str | None = Field(default=None, max_length=2048)
    #: optional sound track, muxed into the video; the video then spans the audio (``duration``
    #: is not used)
    audio_url: str | None = Field(default=None, max_length=2048)
    #: optional subtitles (SRT, WebVTT or ASS), burned into the frames
    subtitles_url: str | None = Field(default=None, max_length=2048)
    #: a cloud provider's own video model (RunwayML's ``gen4_turbo``, ``veo3.1``...): the task
    #: goes to the provider that takes it. No local model serves video yet, so a catalogue name
    #: is refused at submit (docs/models.md)
    model: str | None = Field(default=None, pattern=MODEL_NAME_PATTERN)

    @field_validator("image_url", "audio_url", "subtitles_url")
    @classmethod
    def _input_urls(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else check_input_url(v, info)


class AudioTranscriptionRequest(TaskRequest):
    """``POST /api/v1/media/audio/transcribe``"""

    input_url_fields: ClassVar[tuple[str, ...]] = ("audio_url",)

    audio_url: str = Field(min_length=1, max_length=2048)
    #: the spoken language; ``None`` (absent): the provider detects it
    language: Literal["pt", "en", "es", "fr"] | None = None
    #: ``whisper-1`` / ``best`` (any provider), or a model catalogue entry's name (served by
    #: ``local-whisper``; ``client.models.list()``)
    model: str = Field(default="whisper-1", pattern=MODEL_NAME_PATTERN)
    response_format: Literal["json", "text", "srt", "vtt"] = "json"

    @field_validator("audio_url")
    @classmethod
    def _audio_url(cls, v: str, info: ValidationInfo) -> str:
        return check_input_url(v, info)


class Cue(BaseModel):
    """One subtitle cue for ``timing_mode="manual"`` (seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float = Field(ge=0, le=MAX_CUE_SECONDS, allow_inf_nan=False)
    end: float = Field(gt=0, le=MAX_CUE_SECONDS, allow_inf_nan=False)
    text: str | None = Field(default=None, max_length=2000)

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
