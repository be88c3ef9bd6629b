"""Where outputs live: an fsspec URL (a local folder under the data folder by default).

Artifacts are addressed by URL inside the cluster; over HTTP and in webhooks they are shown only as
this API's download paths (``public_output``), never as a server path. A local root is only
readable on the node that wrote it, so the executor routes bytes written on other nodes to the head
node unless the store is shared (object storage, or ``artifacts_shared`` for a network file system).

Input files the SDK sends go under ``uploads/<user key>/`` and are named in a task by an opaque
``upload://<sha256>/<name>`` reference that is resolved only under the task owner's own prefix, so
a reference copied into another user's task names nothing.

A tenant's users' files live under the tenant's own prefix, ``tenants/<tenant>/`` (outputs in
``tenants/<tenant>/<task id>/``, uploads in ``tenants/<tenant>/uploads/<user key>/``), so a tenant's
files can be exported or deleted as one folder (docs/tenants.md). Users without a tenant keep the
layout above.
"""

from __future__ import annotations

import errno
import hashlib
import mimetypes
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse

from .errors import DiskFull
from .models.requests import UPLOAD_REF
from .storage import url_to_fs
from .tenants.ids import tenant_of

if TYPE_CHECKING:
    from .settings import Settings

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: where the API serves a task's files (``GET {API_PREFIX}/tasks/{id}/files/{name}``)
API_PREFIX = "/api/v1/media"


def download_path(task_id: str, name: str) -> str:
    return f"{API_PREFIX}/tasks/{quote(task_id)}/files/{quote(name)}"


def user_key(user_id: str) -> str:
    """The folder name of a user's uploads (a hash: user ids may hold any character)."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


#: the folder of the store holding every tenant's files, one ``<tenant>`` folder each
TENANTS_FOLDER = "tenants"
#: the folder of uploads, under the root or a tenant's prefix
UPLOADS_FOLDER = "uploads"


def tenant_prefix(tenant: str) -> str:
    """The folder of all of ``tenant``'s files (relative to the store's root)."""
    return f"{TENANTS_FOLDER}/{safe_name(tenant)}"


def owner_space(owner: str) -> str:
    """The prefix an owner's files live under: ``tenants/<tenant>/`` for a tenant's user, ``""``
    for a user without a tenant."""
    tenant = tenant_of(owner)
    return f"{tenant_prefix(tenant)}/" if tenant else ""


def task_folder(task_id: str, owner: str) -> str:
    """The folder of a task's output files (``tenants/acme/<id>`` for ``acme/ana``'s task)."""
    return f"{owner_space(owner)}{task_id}"


def uploads_folder(owner: str) -> str:
    """The folder of an owner's uploads."""
    return f"{owner_space(owner)}{UPLOADS_FOLDER}/{user_key(owner)}"


def safe_name(name: str) -> str:
    """A file name that cannot climb out of its folder."""
    cleaned = _SAFE.sub("_", Path(name).name).strip("._")
    return cleaned or "artifact"


class ArtifactStore:
    """Stores and opens artifact files under one root URL, with the deployment's storage options
    for its protocol (``VIDEOAI_STORAGE_OPTIONS``: an S3 endpoint, credentials)."""

    def __init__(self, root: str, storage_options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.options = dict(storage_options or {})
        self.root = root.rstrip("/")
        parsed = urlparse(self.root)
        self.is_local = parsed.scheme in ("", "file")
        if self.is_local:
            self.root = "file://" + str(Path(unquote(parsed.path or self.root)).resolve())

    @classmethod
    def of(cls, settings: Settings) -> ArtifactStore:
        """The deployment's store: ``settings.artifacts_root`` opened with its storage options."""
        return cls(settings.artifacts_root, settings.storage_options)

    def __repr__(self) -> str:  # never the options: they may hold credentials
        return f"ArtifactStore({self.root!r})"

    def url_for(self, task_id: str, name: str) -> str:
        """The URL of a task's file; ``task_id`` may hold ``/``-separated parts (uploads)."""
        folder = "/".join(safe_name(p) for p in task_id.split("/"))
        parts = [safe_name(p) for p in name.split("/")]
        return f"{self.root}/{folder}/{'/'.join(parts)}"

    def put(self, task_id: str, name: str, data: bytes | Path, content_type: str | None = None) -> dict[str, Any]:
        """Write ``data`` (bytes or a file to copy) and describe the stored artifact; ``DiskFull``
        when the disk is full (the attempt is retried, and the provider is not blamed)."""
        try:
            return self._put(task_id, name, data, content_type)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
            raise DiskFull(f"the disk is full: the artifact {safe_name(name)!r} could not be written") from e

    def _put(self, task_id: str, name: str, data: bytes | Path, content_type: str | None) -> dict[str, Any]:
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
            fs, path = url_to_fs(url, self.options)
            if isinstance(data, Path):
                fs.put_file(str(data), path)
            else:
                with fs.open(path, "wb") as fh:
                    fh.write(data)
            size = int(fs.size(path))
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return {"url": url, "name": safe_name(name), "size_bytes": size, "content_type": ctype}

    def put_upload(self, user_id: str, path: Path) -> str:
        """Store a local input file under ``user_id``'s own prefix; its opaque reference.
        Content-addressed: the same file gives the same reference (so a repeated request with
        an ``Idempotency-Key`` stays the same request)."""
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        ref = f"upload://{digest.hexdigest()[:32]}/{safe_name(path.name)}"
        self.put(uploads_folder(user_id), f"{digest.hexdigest()[:32]}/{safe_name(path.name)}", path)
        return ref

    def upload_url(self, ref: str, user_id: str) -> str:
        """The stored URL of ``user_id``'s upload ``ref`` (``ValueError`` if ``ref`` is not one)."""
        m = UPLOAD_REF.match(ref)
        if not m:
            raise ValueError("not an upload reference")
        return f"{self.root}/{uploads_folder(user_id)}/{m.group(1)}/{m.group(2)}"

    def owns(self, url: str) -> bool:
        return url.startswith(self.root + "/")

    def output_folder(self, url: str, owner: str) -> str | None:
        """The task folder (a task id) holding ``url`` inside ``owner``'s space of this store, or
        ``None`` when it is not a plainly written task file there: outside the store, another
        tenant's (or, for a user without a tenant, any tenant's), an upload, or a path the store
        would not have written (``..``, odd characters)."""
        if not self.owns(url):
            return None
        space = owner_space(owner)
        rel = url[len(self.root) + 1:]
        if not rel.startswith(space):
            return None
        folder, _, name = rel[len(space):].partition("/")
        if not name or folder in (UPLOADS_FOLDER, TENANTS_FOLDER) or self.url_for(space + folder, name) != url:
            return None
        return folder

    def local_path(self, url: str) -> Path:
        """The file behind a local artifact URL (refusing anything outside the root)."""
        if not self.is_local:
            raise ValueError("artifact store is not local")
        path = Path(unquote(urlparse(url).path)).resolve()
        root = Path(unquote(urlparse(self.root).path))
        if root not in path.parents:
            raise ValueError(f"{url} is outside the artifact store")
        return path

    def open_remote(self, url: str) -> tuple[IO[bytes], int]:
        """An open binary file of an object in this (non-local) store and its size, for streaming
        it out in blocks (``ValueError`` for any URL outside the store, ``OSError`` when missing)."""
        if not self.owns(url) or self.is_local:
            raise ValueError("not an object of this artifact store")
        fs, path = url_to_fs(url, self.options)
        size = int(fs.size(path))
        return fs.open(path, "rb"), size

    def read_bytes(self, url: str) -> bytes:
        """The bytes of a file in this store (``ValueError`` for any URL outside it)."""
        if not self.owns(url):
            raise ValueError("not a file of this artifact store")
        if self.is_local:
            return self.local_path(url).read_bytes()
        fs, path = url_to_fs(url, self.options)
        with fs.open(path, "rb") as fh:
            return bytes(fh.read())


def file_name(url: str) -> str:
    """The file name at the end of an artifact URL."""
    return PurePosixPath(unquote(urlparse(url).path)).name


def output_urls(value: Any) -> Iterator[str]:
    """Every ``url`` / ``*_url`` string of an output, in order."""
    if isinstance(value, dict):
        for key, v in value.items():
            if isinstance(v, str) and (key == "url" or key.endswith("_url")):
                yield v
            else:
                yield from output_urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from output_urls(v)


def public_output(value: Any, task_id: str, artifacts: ArtifactStore) -> Any:
    """A task's output as users see it: every URL of a file in the artifact store (``url`` or
    ``*_url`` keys) becomes this API's download path for the task, also given as a sibling
    ``download_url`` / ``*_download_url``. No server path or storage location is left in it."""
    if isinstance(value, list):
        return [public_output(v, task_id, artifacts) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        out[key] = public_output(v, task_id, artifacts)
        if isinstance(v, str) and (key == "url" or key.endswith("_url")) and artifacts.owns(v):
            path = download_path(task_id, file_name(v))
            out[key] = path
            out[key.removesuffix("url") + "download_url"] = path
    return out
