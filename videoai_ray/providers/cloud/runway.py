"""RunwayML videos: ``POST /v1/text_to_video`` or ``/v1/image_to_video``, then ``GET
/v1/tasks/{id}`` until the task ends, then the output URL is downloaded into an artifact.

Every request carries ``X-Runway-Version`` (the API version the OpenAPI document describes).
Runway asks clients not to poll a task more often than every five seconds. The task id is recorded
(``start_job``) before polling, so an attempt after a crash re-attaches to it. When our task is
cancelled or times out, ``DELETE /v1/tasks/{id}`` cancels Runway's task so it stops billing (a
404 there means it is already gone, which the document says is safe to ignore).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...errors import ContentRejected, InvalidInput, PermanentError, ProviderError, RetryableError
from ...models import TaskRequest, TaskType, VideoGenerationRequest
from ..base import ProviderContext
from ..remote_job import RemoteJob
from . import prices
from .common import CloudProvider, JobFailed, media_reference
from .http import ApiClient

API_VERSION = "2024-11-06"
#: data URIs may be at most 5 MiB of text (about 3.75 MiB of image)
MAX_IMAGE_BYTES = 3_900_000
MAX_PROMPT_CHARS = 1000


@dataclass(frozen=True)
class RunwayModel:
    """What one model accepts, from the OpenAPI document's request schemas."""

    name: str
    durations: tuple[int, ...]
    ratios: dict[str, str]
    #: sends ``audio`` (the Veo 3.1 models generate sound unless told not to)
    audio_flag: bool = False


_WIDE = {"720p": "1280:720", "1080p": "1920:1080"}
MODELS = {
    "gen4_turbo": RunwayModel("gen4_turbo", tuple(range(2, 11)), {"720p": "1280:720"}),
    "veo3.1_fast": RunwayModel("veo3.1_fast", (4, 6, 8), _WIDE, audio_flag=True),
    "veo3.1": RunwayModel("veo3.1", (4, 6, 8), _WIDE, audio_flag=True),
    "veo3": RunwayModel("veo3", (8,), _WIDE),
}
#: the models ``/v1/text_to_video`` accepts (every model above takes an image)
TEXT_MODELS = frozenset({"veo3.1_fast", "veo3.1", "veo3"})
_FAILURE_CLASSES = (
    ("SAFETY", ContentRejected),
    ("ASSET", InvalidInput),
    ("INPUT_PREPROCESSING", InvalidInput),
)


class RunwayVideoProvider(CloudProvider):
    """Videos from RunwayML (Veo 3.1 Fast from text, Gen-4 Turbo from an image)."""

    name = "runway"
    task_types = frozenset({TaskType.VIDEO_GENERATION})
    quality = 0.9
    max_concurrency = 2
    timeout = 1200.0
    description = "RunwayML text/image to video (veo3.1_fast, gen4_turbo); needs RUNWAYML_API_SECRET"
    key_setting = "runwayml_api_secret"
    key_env = "RUNWAYML_API_SECRET"
    default_base_url = "https://api.dev.runwayml.com"
    base_url_setting = "runwayml_base_url"
    read_timeout = 60.0
    default_poll_interval = 5.0
    # Runway publishes no request rate: its tiers cap concurrent and daily generations per model
    # (GET /v1/organization answers them for your key; docs.dev.runwayml.com, "Usage tiers"),
    # as published at the time of writing. Concurrency is max_concurrency; set a rate with
    # VIDEOAI_PROVIDER_RATE_LIMITS='{"runway": {"requests": ...}}' if your gateway needs one.
    rate_limits = None
    #: a request's ``model`` (one of ``MODELS``) picks the model instead of the defaults
    honours: ClassVar[frozenset[str]] = frozenset({"model"})

    def __init__(
        self, *args: Any, text_model: str = "veo3.1_fast", image_model: str = "gen4_turbo", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if text_model not in TEXT_MODELS or image_model not in MODELS:
            raise ValueError(f"text_model must be one of {sorted(TEXT_MODELS)}, image_model one of {sorted(MODELS)}")
        self.text_model, self.image_model = MODELS[text_model], MODELS[image_model]

    def model_for(self, req: VideoGenerationRequest) -> RunwayModel:
        """The model that serves this request: the one it names (``model``), else the image
        model unless it lacks the resolution, else the text model."""
        if req.model:
            return MODELS[req.model]  # checked at submit (admission.tasks.check_video_model)
        if req.image_url and req.resolution in self.image_model.ratios:
            return self.image_model
        return self.text_model

    def supports(self, request: TaskRequest) -> bool:
        if not isinstance(request, VideoGenerationRequest) or len(request.prompt) > MAX_PROMPT_CHARS:
            return False
        if not super().supports(request):  # audio_url / subtitles_url: Runway cannot mux or burn them
            return False
        named = request.model
        if named and (named not in MODELS or (not request.image_url and named not in TEXT_MODELS)):
            return False
        model = self.model_for(request)
        return request.resolution in model.ratios and request.duration <= max(model.durations)

    def estimate_cost(self, request: TaskRequest) -> float:
        if not isinstance(request, VideoGenerationRequest) or not self.supports(request):
            return 0.0
        model = self.model_for(request)
        return prices.runway_video(model.name, False, _duration(model, request.duration))

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        if not isinstance(request, VideoGenerationRequest) or not self.supports(request):
            return {}
        return {"media_seconds": float(_duration(self.model_for(request), request.duration))}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}

    async def body(self, ctx: ProviderContext, req: VideoGenerationRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint and documented body for this request."""
        model = self.model_for(req)
        if req.resolution not in model.ratios or req.duration > max(model.durations):
            raise InvalidInput(f"{self.name}: {model.name} cannot make {req.duration} s at {req.resolution}")
        body: dict[str, Any] = {
            "model": model.name,
            "promptText": f"{req.prompt}. {req.style.capitalize()} style."[:MAX_PROMPT_CHARS],
            "ratio": model.ratios[req.resolution],
            "duration": _duration(model, req.duration),
        }
        if model.audio_flag:
            body["audio"] = False
        if not req.image_url:
            return "/v1/text_to_video", body
        body["promptImage"] = await media_reference(self, ctx, req.image_url, MAX_IMAGE_BYTES)
        return "/v1/image_to_video", body

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, VideoGenerationRequest)
        async with self.client(ctx) as api:

            async def create() -> tuple[str, dict[str, Any]]:
                path, body = await self.body(ctx, req)
                created = await api.json("POST", path, json=body)
                task_id = str(created.get("id") or "")
                if not task_id:
                    raise RetryableError(f"{self.name}: the answer holds no task id")
                ctx.log.info("runway task %s started (%s)", task_id, body["model"])
                return task_id, {k: body[k] for k in ("model", "ratio", "duration")} | {
                    "audio": bool(body.get("audio")), "image_to_video": "promptImage" in body}

            job, _ = await self.start_job(ctx, create, lambda j: self.cancel_job(api, j))
            ctx.progress(0.05, "queued at RunwayML")
            outputs = await self.poll(
                ctx,
                lambda: self._check(api, ctx, job.id),
                lambda: self.cancel_job(api, job),
                what=f"RunwayML task {job.id}",
            )
        ctx.progress(0.95, "downloading the video")
        video = await self.fetch_output(ctx, outputs[0], "video.mp4", "video/mp4")
        spec = job.data
        ctx.cost = prices.runway_video(spec["model"], bool(spec.get("audio")), int(spec["duration"]))
        return {
            "video_url": video["url"],
            "duration": spec["duration"],
            "resolution": req.resolution,
            "metadata": {
                "provider": self.name,
                "model": spec["model"],
                "ratio": spec["ratio"],
                "runway_task_id": job.id,
                "requested_duration": req.duration,
                "requested_fps": req.fps,
                "image_to_video": bool(spec.get("image_to_video")),
            },
        }

    async def cancel_job(self, api: ApiClient, job: RemoteJob) -> None:
        await api.request_or_none("DELETE", f"/v1/tasks/{job.id}")  # 404: already cancelled or deleted

    async def _check(self, api: ApiClient, ctx: ProviderContext, task_id: str) -> list[str] | None:
        """One status read: the output URLs once it succeeded, ``None`` while it runs."""
        task = await api.json_or_none("GET", f"/v1/tasks/{task_id}")
        if task is None:
            raise JobFailed(RetryableError(f"{self.name}: task {task_id} no longer exists at RunwayML"))
        status = task.get("status")
        if status == "SUCCEEDED":
            output = [str(u) for u in task.get("output") or []]
            if not output:
                raise JobFailed(RetryableError(f"{self.name}: task {task_id} succeeded without output"))
            return output
        if status == "FAILED":
            raise JobFailed(_failure(self.name, task))
        if status == "CANCELLED":
            raise JobFailed(PermanentError(f"{self.name}: task {task_id} was cancelled or deleted at RunwayML"))
        if status == "RUNNING":
            ctx.progress(0.1 + 0.8 * float(task.get("progress") or 0.0), "running at RunwayML")
        elif status == "THROTTLED":
            ctx.progress(0.05, "throttled at RunwayML (waiting for capacity)")
        return None


def _duration(model: RunwayModel, wanted: int) -> int:
    """The shortest duration the model makes that is at least ``wanted`` seconds."""
    return min((d for d in model.durations if d >= wanted), default=max(model.durations))


def _failure(provider: str, task: dict[str, Any]) -> ProviderError:
    """A failed task's error, by the documented failure code (``SAFETY.*`` is moderation)."""
    code = str(task.get("failureCode") or "")
    message = f"{provider}: task failed: {task.get('failure') or 'no reason given'}" + (f" ({code})" if code else "")
    for prefix, cls in _FAILURE_CLASSES:
        if code.startswith(prefix) or f".{prefix}" in code:
            return cls(message)
    return RetryableError(message)  # INTERNAL.* and unknown codes: Runway suggests retrying
