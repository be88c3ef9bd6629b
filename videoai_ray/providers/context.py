"""The concrete ``ProviderContext``: progress and cancellation arrive through callables, so the
same class serves worker actors, Ray tasks and unit tests."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .. import fault_points, inputs, netguard
from ..artifacts import ArtifactStore, task_folder
from ..errors import InvalidInput
from ..resolver import resolver_for
from ..settings import Settings
from .base import ProviderContext
from .remote_job import RemoteJob

log = logging.getLogger("videoai.providers")

ArtifactWriter = Callable[[str, str, "bytes | Path", "str | None"], dict[str, Any]]
#: makes a remote job durable through the Scheduler; False: the task no longer wants it
JobRecorder = Callable[[RemoteJob], Awaitable[bool]]


class AttemptContext(ProviderContext):
    """Context of one attempt of one task."""

    def __init__(
        self,
        task_id: str,
        attempt: int,
        settings: Settings,
        *,
        on_progress: Callable[[float, str | None], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        write_artifact: ArtifactWriter | None = None,
        provider: str = "",
        user_id: str = "",
        progress_interval: float = 0.2,
        remote_job: RemoteJob | None = None,
        record_job: JobRecorder | None = None,
        expected_inputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.settings = settings
        self.user_id = user_id
        self.provider = provider
        # only the provider that created a job can re-attach to it
        self.remote_job = remote_job if remote_job is not None and remote_job.provider == provider else None
        self.remote_job_over = False
        self._record_job = record_job
        #: ``{url: identity at submit}`` of inputs under roots (``Assignment.expected_inputs``)
        self.expected_inputs = dict(expected_inputs or {})
        self.cost = None
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled or (lambda: False)
        self._write = write_artifact or ArtifactStore.of(settings).put
        self._interval = progress_interval
        self._last_sent = 0.0
        self.last_progress = 0.0
        self._tmpdir: Path | None = None
        self.log = logging.LoggerAdapter(
            log, {"task_id": task_id, "attempt": attempt, "provider": provider, "user_id": user_id}
        )

    @property
    def tmpdir(self) -> Path:
        """Scratch folder, made on first use (most attempts never need one)."""
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix=f"videoai-{self.task_id}-"))
        return self._tmpdir

    def progress(self, value: float, message: str | None = None) -> None:
        value = min(1.0, max(0.0, float(value)))
        if value < self.last_progress:
            return
        self.last_progress = value
        now = time.monotonic()
        if self._on_progress and (now - self._last_sent >= self._interval or value >= 1.0):
            self._last_sent = now
            self._on_progress(value, message)

    @property
    def cancelled(self) -> bool:
        return bool(self._is_cancelled())

    async def record_remote_job(self, job_id: str, data: dict[str, Any] | None = None) -> RemoteJob:
        job = RemoteJob(self.provider, str(job_id), dict(data or {}), self.attempt)
        await fault_points.pause(self.settings, "job_created", self.task_id)
        if self._record_job is not None and not await self._record_job(job):
            raise asyncio.CancelledError(f"task {self.task_id} no longer wants remote job {job.id}")
        self.remote_job, self.remote_job_over = job, False
        self.log.info("remote job %s recorded", job.id)
        await fault_points.pause(self.settings, "job_recorded", self.task_id)
        return job

    def store_artifact(self, name: str, data: bytes | Path, content_type: str | None = None) -> dict[str, Any]:
        # a tenant's user's files go under the tenant's prefix (``artifacts.task_folder``)
        return self._write(task_folder(self.task_id, self.user_id), name, data, content_type)

    def open_input(self, url: str, max_bytes: int | None = None) -> Path:
        """The input named by ``url``, under the one URL policy, checked again here whatever the
        task row says: an http(s) URL through the network guard (pinned to the checked address,
        every redirect checked), an SDK upload of this task's own user, or an object under an
        input root granted to this task's user (read in place, streamed: ``inputs.py``).
        Nothing else."""
        limit = max_bytes or self.settings.max_download_bytes
        if url.startswith("upload://"):
            return self._open_upload(url, limit)
        if inputs.is_root_url(url):
            return inputs.open_root_input(url, self.settings, self.user_id, self.tmpdir, limit,
                                          expected=self.expected_inputs.get(url))
        try:
            scheme = urlparse(url).scheme
        except ValueError:
            scheme = ""
        if scheme not in ("http", "https"):
            raise InvalidInput("the input must be an http(s) URL, a file uploaded with the SDK, or an object "
                               "under an input root granted to this user")
        suffix = Path(urlparse(url).path).suffix[:16]
        dest = self.tmpdir / ("input" + (suffix if suffix.isascii() else ""))
        return netguard.download(url, dest, max_bytes=limit, allowlist=self.settings.url_allowlist,
                                resolver=resolver_for(self.settings))

    def _open_upload(self, ref: str, limit: int) -> Path:
        store = ArtifactStore.of(self.settings)
        try:
            url = store.upload_url(ref, self.user_id)
            if store.is_local:
                path = store.local_path(url)
                size = path.stat().st_size
            else:
                data = store.read_bytes(url)
                size = len(data)
        except (OSError, ValueError):
            raise InvalidInput("the uploaded input does not exist (for this user)") from None
        if size > limit:
            raise InvalidInput(f"the uploaded input is over the {limit} byte limit")
        if store.is_local:
            return path
        dest = self.tmpdir / ("input" + Path(url).suffix[:16])
        dest.write_bytes(data)
        return dest

    def close(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
