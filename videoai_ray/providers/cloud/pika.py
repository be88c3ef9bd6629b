"""Pika 2.2 videos through fal.ai's queue API.

``POST https://queue.fal.run/fal-ai/pika/v2.2/text-to-video`` (or ``image-to-video``) answers a
``request_id`` with ``status_url``, ``response_url`` and ``cancel_url``; the status goes
``IN_QUEUE`` (with ``queue_position``) → ``IN_PROGRESS`` → ``COMPLETED``, then the response
holds ``video.url``. The request id and its URLs are recorded (``start_job``) before polling, so
an attempt after a crash re-attaches to it. Cancelling our task sends ``PUT cancel_url``. The key
is sent as ``Authorization: Key <FAL_KEY>`` and only ever to the queue host (``FAL_QUEUE_RUN_HOST``
when set: URLs the queue answers on another host are rebuilt on it from the documented paths).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from ...errors import ContentRejected, RetryableError
from ...models import TaskRequest, TaskType, VideoGenerationRequest
from ..base import ProviderContext
from ..remote_job import RemoteJob
from . import prices
from .common import CloudProvider, JobFailed, media_reference
from .http import ApiClient, log

APP = "fal-ai/pika/v2.2"
DURATIONS = (5, 10)
RESOLUTIONS = ("720p", "1080p")
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class PikaVideoProvider(CloudProvider):
    """Videos from Pika 2.2, run on fal.ai."""

    name = "pika"
    task_types = frozenset({TaskType.VIDEO_GENERATION})
    quality = 0.8
    max_concurrency = 2
    timeout = 1200.0
    description = "Pika 2.2 text/image to video via fal.ai's queue (fal-ai/pika/v2.2); needs FAL_KEY"
    key_setting = "fal_key"
    key_env = "FAL_KEY"
    default_base_url = "https://queue.fal.run"
    base_url_setting = "fal_queue_run_host"
    read_timeout = 60.0
    default_poll_interval = 2.0
    # fal.ai publishes a cap on concurrent requests per account (docs.fal.ai, "Concurrency
    # limits"), not a request rate, as published at the time of writing: max_concurrency is it.
    rate_limits = None

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def supports(self, request: TaskRequest) -> bool:
        return (
            isinstance(request, VideoGenerationRequest)
            and super().supports(request)  # no audio_url / subtitles_url: Pika cannot mux or burn them
            and request.resolution in RESOLUTIONS
            and request.duration <= max(DURATIONS)
        )

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        if not isinstance(request, VideoGenerationRequest):
            return {}
        return {"media_seconds": float(_duration(request.duration))}

    def estimate_cost(self, request: TaskRequest) -> float:
        if not isinstance(request, VideoGenerationRequest) or not self.supports(request):
            return 0.0
        return prices.pika_video(request.resolution, _duration(request.duration))

    async def body(self, ctx: ProviderContext, req: VideoGenerationRequest) -> tuple[str, dict[str, Any]]:
        """The model path and its input for this request."""
        body: dict[str, Any] = {
            "prompt": f"{req.prompt}. {req.style.capitalize()} style.",
            "resolution": req.resolution if req.resolution in RESOLUTIONS else "1080p",
            "duration": _duration(req.duration),
        }
        if not req.image_url:
            return f"/{APP}/text-to-video", {**body, "aspect_ratio": "16:9"}
        body["image_url"] = await media_reference(self, ctx, req.image_url, MAX_IMAGE_BYTES)
        return f"/{APP}/image-to-video", body

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        req = self.parse(request, VideoGenerationRequest)
        async with self.client(ctx) as api:

            async def create() -> tuple[str, dict[str, Any]]:
                path, body = await self.body(ctx, req)
                queued = await api.json("POST", path, json=body)
                request_id = str(queued.get("request_id") or "")
                if not request_id:
                    raise RetryableError(f"{self.name}: the queue answer holds no request_id")
                ctx.log.info("fal request %s queued (%s)", request_id, path)
                base = f"{self.base_url}/{APP}/requests/{request_id}"
                return request_id, {
                    "status_url": self._own(queued.get("status_url"), f"{base}/status"),
                    "response_url": self._own(queued.get("response_url"), base),
                    "cancel_url": self._own(queued.get("cancel_url"), f"{base}/cancel"),
                    "resolution": body["resolution"], "duration": body["duration"],
                    "image_to_video": "image_url" in body,
                }

            job, _ = await self.start_job(ctx, create, lambda j: self.cancel_job(api, j))
            ctx.progress(0.05, "queued at fal.ai")
            await self.poll(
                ctx,
                lambda: self._check(api, ctx, job.data["status_url"]),
                lambda: self.cancel_job(api, job),
                what=f"fal.ai request {job.id}",
            )
            result = await api.json("GET", job.data["response_url"])
        video = result.get("video")
        video_url = video.get("url") if isinstance(video, dict) else None
        if not video_url:
            raise RetryableError(f"{self.name}: the response holds no video url")
        ctx.progress(0.95, "downloading the video")
        stored = await self.fetch_output(ctx, str(video_url), "video.mp4", "video/mp4")
        ctx.cost = prices.pika_video(job.data["resolution"], int(job.data["duration"]))
        return {
            "video_url": stored["url"],
            "duration": job.data["duration"],
            "resolution": job.data["resolution"],
            "metadata": {
                "provider": self.name,
                "model": APP,
                "fal_request_id": job.id,
                "requested_duration": req.duration,
                "requested_fps": req.fps,
                "image_to_video": bool(job.data.get("image_to_video")),
                "seed": result.get("seed"),
            },
        }

    async def cancel_job(self, api: ApiClient, job: RemoteJob) -> None:
        await api.request_or_none("PUT", job.data["cancel_url"])

    def _own(self, url: Any, documented: str) -> str:
        """``url`` if it is on our queue host, else the documented URL there: the key is never
        sent to another host (a gateway may pass fal's own URLs through unchanged)."""
        ours = urlparse(self.base_url).netloc
        if isinstance(url, str) and url and urlparse(url).netloc == ours:
            return url
        if url:
            log.info("%s: the queue answered a URL on %s; using %s", self.name, urlparse(str(url)).netloc, ours)
        return documented

    async def _check(self, api: ApiClient, ctx: ProviderContext, status_url: str) -> bool | None:
        """One status read: ``True`` once the request completed, ``None`` while it waits or runs."""
        status = await api.json_or_none("GET", status_url)
        if status is None:
            raise JobFailed(RetryableError(f"{self.name}: the request no longer exists at fal.ai"))
        state = status.get("status")
        if state == "COMPLETED":
            if status.get("error"):  # the model failed; the response would only repeat it
                kind = str(status.get("error_type") or "")
                cls = ContentRejected if "content_policy" in kind else RetryableError
                raise JobFailed(cls(f"{self.name}: {status['error']}" + (f" ({kind})" if kind else "")))
            return True
        if state == "IN_QUEUE":
            ctx.progress(0.05, f"queued at fal.ai (position {status.get('queue_position', '?')})")
        elif state == "IN_PROGRESS":
            ctx.progress(0.3, "generating at fal.ai")
        return None


def _duration(wanted: int) -> int:
    return min((d for d in DURATIONS if d >= wanted), default=max(DURATIONS))
