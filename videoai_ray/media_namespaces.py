"""The SDK's media namespaces (``client.images``, ``client.videos``, ``client.audio``,
``client.subtitles``): one method per create route of the HTTP API, each returning a future."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .client_namespaces import ClientNamespace
from .futures import TaskFuture
from .models import TaskType


class _Resource(ClientNamespace):
    task_type: TaskType

    def _submit(self, idempotency_key: str | None, body: dict[str, Any]) -> TaskFuture:
        return self._client.tasks.submit(self.task_type, body, idempotency_key=idempotency_key)


class Images(_Resource):
    task_type = TaskType.IMAGE_GENERATION

    def generate(self, prompt: str, *, idempotency_key: str | None = None, **body: Any) -> TaskFuture:
        """``POST /images/generate``: style, size, quality, n, priority, webhook_url, metadata..."""
        return self._submit(idempotency_key, {"prompt": prompt, **body})


class Videos(_Resource):
    task_type = TaskType.VIDEO_GENERATION

    def generate(self, prompt: str, *, image_file: str | Path | None = None, idempotency_key: str | None = None,
                 **body: Any) -> TaskFuture:
        """``POST /videos/generate``: duration, style, fps, resolution, priority, ...; ``image_url``
        or a local ``image_file`` (uploaded under this user's prefix) for the first frame."""
        if image_file is not None:
            body["image_url"] = self._client.upload(image_file)
        return self._submit(idempotency_key, {"prompt": prompt, **body})


class Audio(_Resource):
    task_type = TaskType.AUDIO_TRANSCRIPTION

    def transcribe(self, audio_url: str | None = None, *, file: str | Path | None = None,
                   idempotency_key: str | None = None, **body: Any) -> TaskFuture:
        """``POST /audio/transcribe`` from a URL, or from a local ``file`` (uploaded to the
        artifact store under this user's own prefix first, so a worker on another node can read
        it; the task names it by an opaque ``upload://`` reference)."""
        if (audio_url is None) == (file is None):
            from .errors import InvalidRequest

            raise InvalidRequest("give exactly one of audio_url or file", field="audio_url")
        if file is not None:
            audio_url = self._client.upload(file)
        return self._submit(idempotency_key, {"audio_url": audio_url, **body})


class Subtitles(_Resource):
    task_type = TaskType.SUBTITLE_GENERATION

    def generate(self, text: str, *, idempotency_key: str | None = None, **body: Any) -> TaskFuture:
        """``POST /subtitles/generate``: target_language, format, timing_mode, cues, ..."""
        return self._submit(idempotency_key, {"text": text, **body})
