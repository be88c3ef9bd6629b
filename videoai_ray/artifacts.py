"""Where outputs live: an fsspec URL (a local folder under the data folder by default).

Artifacts are addressed by URL. A local root is only readable on the node that wrote it, so the
executor routes bytes written on other nodes to the head node unless the store is shared
(object storage, or ``artifacts_shared`` for a network file system).
"""

from __future__ import annotations

import mimetypes
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import fsspec

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name that cannot climb out of its folder."""
    cleaned = _SAFE.sub("_", Path(name).name).strip("._")
    return cleaned or "artifact"


class ArtifactStore:
    """Stores and opens artifact files under one root URL."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        parsed = urlparse(self.root)
        self.is_local = parsed.scheme in ("", "file")
        if self.is_local:
            self.root = "file://" + str(Path(unquote(parsed.path or self.root)).resolve())

    def url_for(self, task_id: str, name: str) -> str:
        return f"{self.root}/{safe_name(task_id)}/{safe_name(name)}"

    def put(self, task_id: str, name: str, data: bytes | Path, content_type: str | None = None) -> dict[str, Any]:
        """Write ``data`` (bytes or a file to copy) and describe the stored artifact."""
        url = self.url_for(task_id, name)
        if self.is_local:
            dest = self.local_path(url)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, Path):
                shutil.copyfile(data, dest)
            else:
                dest.write_bytes(data)
            size = dest.stat().st_size
        else:
            fs, path = fsspec.core.url_to_fs(url)
            if isinstance(data, Path):
                fs.put_file(str(data), path)
            else:
                with fs.open(path, "wb") as fh:
                    fh.write(data)
            size = int(fs.size(path))
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return {"url": url, "name": safe_name(name), "size_bytes": size, "content_type": ctype}

    def owns(self, url: str) -> bool:
        return url.startswith(self.root + "/")

    def local_path(self, url: str) -> Path:
        """The file behind a local artifact URL (refusing anything outside the root)."""
        if not self.is_local:
            raise ValueError("artifact store is not local")
        path = Path(unquote(urlparse(url).path)).resolve()
        root = Path(unquote(urlparse(self.root).path))
        if root not in path.parents:
            raise ValueError(f"{url} is outside the artifact store")
        return path

    def read_bytes(self, url: str) -> bytes:
        if self.is_local and self.owns(url):
            return self.local_path(url).read_bytes()
        with fsspec.open(url, "rb") as fh:
            return bytes(fh.read())
