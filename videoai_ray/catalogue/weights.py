"""Weights on this node: fetched once, verified, reused across restarts.

A remote source (an fsspec URL) is copied into ``<model cache>/<name>-<digest prefix>`` under a
file lock (``filelock``): however many actors of a node ask at once, one downloads and the others
wait and reuse the folder. The copy goes to a temporary folder beside it; each file's size is
checked against the listing, the folder's digest against the entry's revision, and only then is
the folder renamed into place (an atomic rename): a bad or interrupted download never leaves a
folder a later load would use. A folder that is there is trusted (it was verified before its
rename). A Hub source is read through ``huggingface_hub.snapshot_download`` (its own cache, locks
and revision check; ``HF_HUB_OFFLINE``/``HF_HOME`` honoured), with ``local_files_only`` unless
the entry allows downloads. A local folder is checked against its digest once per process.

A fetch says what it does through ``on_progress(model, state, bytes done, bytes total)``: an
actor that finds the lock held reports ``waiting`` (another actor of its node downloads the
model), the downloader reports ``downloading`` after every MiB and ``verifying`` at the end; the
pool actor turns these into the progress of the tasks that wait for the model and into its pool's
status. ``VIDEOAI_MODEL_DOWNLOAD_RATE`` paces a download (bytes per second), so fetching a large
model does not take a node's whole link from the tasks running there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PermanentError
from .spec import ModelSpec, parse_hub

log = logging.getLogger("videoai.models")

#: written last into a verified folder, before its rename
MARKER = ".videoai-weights.json"
#: ``(model name, state, bytes done, bytes total)``: ``waiting``, ``downloading`` or ``verifying``
FetchProgress = Callable[[str, str, int, int], None]
_BLOCK = 1 << 20
_verified_local: set[tuple[str, str]] = set()
_local_lock = threading.Lock()


@dataclass
class Weights:
    """A model's weights on this node."""

    folder: Path
    #: bytes on disk (the memory estimate of the loaded model)
    nbytes: int
    #: downloads this fetch made (0: the node had them)
    downloaded: int = 0
    #: the base model's weights (a LoRA adapter)
    base: Weights | None = None

    @property
    def total_bytes(self) -> int:
        return self.nbytes + (self.base.total_bytes if self.base else 0)


def sha256_stream(fh: Any, sink: Callable[[bytes], Any] | None = None) -> str:
    """The SHA-256 of what a binary file object holds, read a MiB at a time; each block is
    also given to ``sink`` (a download writes it to its copy as it hashes it)."""
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(_BLOCK), b""):
        h.update(block)
        if sink is not None:
            sink(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return sha256_stream(fh)


def digest_of(entries: Mapping[str, tuple[int, str]]) -> str:
    """``sha256:<hex>`` of a folder given ``{relative path: (size, sha256)}``."""
    h = hashlib.sha256()
    for rel in sorted(entries):
        size, sha = entries[rel]
        h.update(f"{rel}\0{size}\0{sha}\n".encode())
    return f"sha256:{h.hexdigest()}"


def folder_files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}


def folder_digest(folder: Path) -> str:
    return digest_of({rel: (p.stat().st_size, sha256_file(p)) for rel, p in folder_files(folder).items()})


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder_files(folder).values())


def remote_listing(source: str, storage_options: Mapping[str, Mapping[str, Any]],
                   ) -> tuple[Any, dict[str, tuple[str, int]]]:
    """``(fs, {relative path: (remote path, size)})`` of the files under a remote source."""
    from ..storage import url_to_fs

    fs, base = url_to_fs(source, storage_options)
    base = base.rstrip("/")
    fs.invalidate_cache(base)  # the files as they are now (sizes, ETags), not as an earlier listing saw them
    found = fs.find(base, detail=True)
    files = {p[len(base):].lstrip("/"): (p, int(info.get("size") or 0)) for p, info in found.items()
             if info.get("type") != "directory" and p.startswith(base + "/")}
    if not files:
        raise PermanentError(f"no files under {source}")
    return fs, files


def remote_digest(source: str, storage_options: Mapping[str, Mapping[str, Any]]) -> str:
    """The digest of a remote folder, read in full (at registration, to pin it)."""
    fs, files = remote_listing(source, storage_options)
    entries = {}
    for rel, (path, size) in files.items():
        with fs.open(path, "rb") as fh:
            entries[rel] = (size, sha256_stream(fh))
    return digest_of(entries)


def cache_root(settings: Any) -> Path:
    return Path(settings.model_cache_dir or Path(settings.home) / "model-cache")


def fetch(spec: ModelSpec, settings: Any, on_progress: FetchProgress | None = None) -> Weights:
    """The weights of ``spec`` (and its base) on this node; ``PermanentError`` with the reason."""
    base = fetch(spec.base, settings, on_progress) if spec.base is not None else None
    kind = spec.kind
    if kind == "hub":
        w = _hub(spec, settings)
    elif kind == "remote":
        w = _remote(spec, settings, on_progress or _quiet)
    else:
        w = _local(spec)
    w.base = base
    return w


def _local(spec: ModelSpec) -> Weights:
    folder = Path(spec.source)
    if not folder.is_dir():
        raise PermanentError(f"model {spec.name}: no folder {folder} on this node")
    with _local_lock:
        if (str(folder), spec.revision) not in _verified_local:
            got = folder_digest(folder)
            if got != spec.revision:
                raise PermanentError(f"model {spec.name}: hash mismatch: {folder} is {got}, the catalogue pins "
                                     f"{spec.revision}")
            _verified_local.add((str(folder), spec.revision))
    return Weights(folder, folder_bytes(folder))


def _quiet(name: str, state: str, done: int, total: int) -> None:
    pass


class _Transfer:
    """The bytes a download has written: reported after each block, and paced to ``rate``
    bytes per second when there is a limit."""

    def __init__(self, name: str, total: int, rate: int, report: FetchProgress) -> None:
        self.name, self.total, self.rate, self.report = name, total, rate, report
        self.done = 0
        self.started = time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        if self.rate:
            ahead = self.done / self.rate - (time.monotonic() - self.started)
            if ahead > 0:
                time.sleep(ahead)
        self.report(self.name, "downloading", self.done, self.total)

    def copy(self, fs: Any, path: str, local: Path) -> str:
        """Copy one remote file to ``local``; its SHA-256, computed on the way."""
        with fs.open(path, "rb") as src, local.open("wb") as dst:
            def write(block: bytes) -> None:
                dst.write(block)
                self.add(len(block))

            return sha256_stream(src, write)


def _remote(spec: ModelSpec, settings: Any, report: FetchProgress) -> Weights:
    try:
        from filelock import FileLock, Timeout
    except ImportError as exc:
        raise PermanentError("filelock is not installed: pip install 'videoai-ray[models]'") from exc

    root = cache_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{spec.name}-{spec.revision.removeprefix('sha256:')[:16]}"
    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:  # another actor of this node downloads it: wait, then use its folder
        report(spec.name, "waiting", 0, 0)
        lock.acquire()
    try:
        if (target / MARKER).is_file():
            return Weights(target, folder_bytes(target))
        if target.exists():  # not ours (no marker): never trusted
            shutil.rmtree(target, ignore_errors=True)
        return _download(spec, settings, target, report)
    finally:
        lock.release()


def _download(spec: ModelSpec, settings: Any, target: Path, report: FetchProgress) -> Weights:
    """Copy, check and rename the weights into ``target`` (the caller holds its lock)."""
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".partial-{spec.name}-", dir=target.parent))
    try:
        fs, files = remote_listing(spec.source, settings.storage_options)
        total = sum(size for _, size in files.values())
        transfer = _Transfer(spec.name, total, settings.model_download_rate, report)
        report(spec.name, "downloading", 0, total)
        entries = {}
        for rel, (path, size) in files.items():
            local = tmp / rel
            local.parent.mkdir(parents=True, exist_ok=True)
            sha = transfer.copy(fs, path, local)
            if local.stat().st_size != size:
                raise PermanentError(f"model {spec.name}: {rel} is {local.stat().st_size} bytes, the listing "
                                     f"says {size}")
            entries[rel] = (size, sha)
        report(spec.name, "verifying", transfer.done, total)
        got = digest_of(entries)
        if got != spec.revision:
            raise PermanentError(f"model {spec.name}: hash mismatch: {spec.source} is {got} now, the catalogue "
                                 f"pins {spec.revision}")
        (tmp / MARKER).write_text(json.dumps({"name": spec.name, "source": spec.source,
                                              "revision": spec.revision, "files": len(entries),
                                              "fetched_at": time.time()}))
        os.replace(tmp, target)
    except PermanentError:
        raise
    except Exception as exc:
        raise PermanentError(f"model {spec.name}: could not fetch {spec.source}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    nbytes = folder_bytes(target)
    log.info("model %s fetched from %s (%d bytes) in %.1f s", spec.name, spec.source, nbytes,
             time.monotonic() - started)
    return Weights(target, nbytes, downloaded=1)


def _hub(spec: ModelSpec, settings: Any) -> Weights:
    repo, rev = parse_hub(spec.source)
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise PermanentError("huggingface_hub is not installed: pip install 'videoai-ray[models]'") from exc
    cache = str(settings.hf_cache_dir) if settings.hf_cache_dir else None
    try:
        path = snapshot_download(repo, revision=rev, cache_dir=cache, local_files_only=not spec.download)
    except Exception as exc:
        where = cache or "huggingface_hub's cache (HF_HUB_CACHE / HF_HOME)"
        how = "" if spec.download else "; the entry does not allow downloads (download=True)"
        raise PermanentError(f"model {spec.name}: revision {rev} of {repo} is not in {where}{how}: "
                             f"{type(exc).__name__}") from exc
    folder = Path(path)
    return Weights(folder, folder_bytes(folder))


__all__ = ["MARKER", "FetchProgress", "Weights", "cache_root", "digest_of", "fetch", "folder_bytes", "folder_digest",
           "remote_digest"]
