"""The concrete ``ProviderContext``: progress and cancellation arrive through callables, so the
same class serves worker actors, Ray tasks and unit tests."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .. import netguard
from ..artifacts import ArtifactStore
from ..settings import Settings
from .base import ProviderContext

log = logging.getLogger("videoai.providers")

ArtifactWriter = Callable[[str, str, "bytes | Path", "str | None"], dict[str, Any]]


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
    ) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.settings = settings
        self.cost = None
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled or (lambda: False)
        self._write = write_artifact or ArtifactStore(settings.artifacts_root).put
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

    def store_artifact(self, name: str, data: bytes | Path, content_type: str | None = None) -> dict[str, Any]:
        return self._write(self.task_id, name, data, content_type)

    def open_input(self, url: str, max_bytes: int | None = None) -> Path:
        limit = max_bytes or self.settings.max_download_bytes
        parsed = urlparse(url)
        dest = self.tmpdir / ("input" + Path(unquote(parsed.path)).suffix)
        if parsed.scheme in ("http", "https"):
            return netguard.download(url, dest, max_bytes=limit, allowlist=self.settings.url_allowlist)
        if parsed.scheme in ("", "file"):
            src = Path(unquote(parsed.path))
            if src.stat().st_size > limit:
                from ..errors import InvalidInput

                raise InvalidInput(f"{url} is over the {limit} byte limit")
            return src
        dest.write_bytes(ArtifactStore(self.settings.artifacts_root).read_bytes(url))
        return dest

    def close(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
