"""A catalogue entry: what a name means, and the checks a registration passes.

A source is one of three kinds:

- ``local``: an absolute folder on every node (``/models/whisper-pt``); only the SDK and the CLI
  may register one (a folder is the server's own file system);
- ``remote``: an fsspec URL (``s3://models/whisper-pt/``), fetched once per node into the model
  cache; over HTTP it must lie under one of ``VIDEOAI_MODEL_ROOTS``;
- ``hub``: ``hf://org/repo@revision``, read from the Hugging Face Hub cache (downloaded only if
  the entry says ``download=True``).

The revision pins the weights: for a local or remote source, ``sha256:<hex>`` of the folder's
files (name, size and SHA-256 of each; computed at registration when not given, checked again
after every download); for the Hub, the commit the cache (or the download) must hold.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import InvalidRequest

#: provider kinds and the local provider that serves each
PROVIDERS: dict[str, str] = {"whisper": "local-whisper", "diffusers": "local-diffusers"}
#: which task types each kind serves
TASK_TYPES: dict[str, str] = {"whisper": "audio_transcription", "diffusers": "image_generation"}
#: model names a request may give that are not catalogue entries
BUILTIN = frozenset({"whisper-1", "best"})
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
NAME_PATTERN = NAME_RE.pattern
_HF_RE = re.compile(r"^hf://([A-Za-z0-9][A-Za-z0-9._-]{0,95})/([A-Za-z0-9][A-Za-z0-9._-]{0,95})@([A-Za-z0-9._/-]{1,128})$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_URL_RE = re.compile(r"^([a-z][a-z0-9+.-]{1,15})://[^\s?#\\]+$")
#: fsspec protocols that name this machine's own files or memory: never a remote source
_LOCAL_PROTOCOLS = frozenset({"file", "local", "memory", "reference", "dir", "blockcache", "filecache",
                              "simplecache", "cached", "zip", "tar", "libarchive", "jlab", "jupyter"})

SourceKind = Literal["local", "remote", "hub"]


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry, as stored and as shipped with each task that names it."""

    name: str
    provider: str
    source: str
    revision: str
    #: the base model's entry (a diffusers LoRA adapter); ``None`` for a full model
    base: ModelSpec | None = None
    #: the Hub may be asked for the weights missing from the local cache (``hub`` sources only)
    download: bool = False

    @property
    def kind(self) -> SourceKind:
        return source_kind(self.source)

    @property
    def key(self) -> str:
        """What a result depends on: the name, the revision and the base's (the cache key part)."""
        own = f"{self.name}@{self.revision}"
        return f"{own}+{self.base.key}" if self.base is not None else own

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        base = data.get("base")
        return cls(name=data["name"], provider=data["provider"], source=data["source"], revision=data["revision"],
                   base=cls.from_dict(base) if base else None, download=bool(data.get("download", False)))


def source_kind(source: str) -> SourceKind:
    if source.startswith("hf://"):
        return "hub"
    if "://" in source or "::" in source:
        return "remote"
    return "local"


def parse_hub(source: str) -> tuple[str, str]:
    """``(org/repo, revision)`` of an ``hf://`` source."""
    m = _HF_RE.match(source)
    if m is None:
        raise InvalidRequest("source: a Hub source is hf://<org>/<repo>@<revision>", field="source")
    return f"{m.group(1)}/{m.group(2)}", m.group(3)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(f"name: {name!r} is not a model name (lower-case letters, digits, '.', '_', '-'; "
                             "at most 64)", field="name")
    if name in BUILTIN:
        raise InvalidRequest(f"name: {name!r} is reserved (it already means a model)", field="name")
    return name


def check_provider(provider: object) -> str:
    if provider not in PROVIDERS:
        raise InvalidRequest(f"provider: {provider!r} is not a model provider kind (one of: "
                             f"{', '.join(PROVIDERS)})", field="provider")
    return str(provider)


def check_source(source: object, roots: tuple[str, ...], *, trusted: bool) -> str:
    """The source as given, if this caller may register it; ``InvalidRequest`` naming ``source``.

    ``trusted`` (the SDK, the CLI) may name a local folder; an HTTP caller only an ``hf://``
    source or a URL under one of ``roots`` (``VIDEOAI_MODEL_ROOTS``)."""
    if not isinstance(source, str) or not source or len(source) > 1024 or any(ord(c) < 32 for c in source):
        raise InvalidRequest("source: a folder, a storage URL or hf://org/repo@revision is required", field="source")
    kind = source_kind(source)
    if kind == "hub":
        parse_hub(source)
        return source
    if kind == "local":
        if not trusted:
            raise InvalidRequest("source: a local folder can be registered only through the SDK or the CLI; "
                                 "over HTTP give a URL under VIDEOAI_MODEL_ROOTS or hf://", field="source")
        if not source.startswith("/"):
            raise InvalidRequest(f"source: {source!r} is not an absolute folder", field="source")
        if ".." in source.split("/"):
            raise InvalidRequest("source: '..' is not allowed in a folder", field="source")
        return source
    m = _URL_RE.match(source)
    if m is None or "::" in source:
        raise InvalidRequest(f"source: {source!r} is not a plain storage URL (no query, fragment, "
                             "chained '::' or spaces)", field="source")
    if m.group(1) in _LOCAL_PROTOCOLS:
        raise InvalidRequest(f"source: the {m.group(1)}:// protocol names local files; give a folder through "
                             "the SDK or the CLI", field="source")
    rest = source.split("://", 1)[1]
    if any(part in ("..", ".") for part in rest.split("/")) or "//" in rest:
        raise InvalidRequest("source: '.', '..' and empty segments are not allowed in a URL", field="source")
    if not trusted and not under_roots(source, roots):
        raise InvalidRequest("source: not under a granted model root (VIDEOAI_MODEL_ROOTS"
                             f"{': ' + ', '.join(roots) if roots else ' is empty'})", field="source")
    return source


def under_roots(source: str, roots: tuple[str, ...]) -> bool:
    """``source`` is one of ``roots`` or inside one (segment by segment: ``s3://models`` grants
    ``s3://models/x/``, not ``s3://models-private/``)."""
    for root in roots:
        prefix = root if root.endswith("/") else root + "/"
        if source == root.rstrip("/") or source.startswith(prefix):
            return True
    return False


def check_revision(revision: object, kind: SourceKind) -> str | None:
    """The revision as given (``None``: to be computed, local and remote sources only)."""
    if revision is None or revision == "":
        if kind == "hub":
            raise InvalidRequest("revision: a Hub source pins its revision in the source (hf://org/repo@<commit>)",
                                 field="revision")
        return None
    if not isinstance(revision, str):
        raise InvalidRequest("revision: a string is required", field="revision")
    if kind != "hub" and not _DIGEST_RE.match(revision):
        raise InvalidRequest("revision: a folder's revision is sha256:<64 hex digits> (leave it out to have it "
                             "computed)", field="revision")
    return revision


def hub_revision_matches(source: str, revision: str | None) -> str:
    """The revision of an ``hf://`` source (the one in the URL; ``revision``, if given, must agree)."""
    _, rev = parse_hub(source)
    if revision not in (None, "", rev):
        raise InvalidRequest(f"revision: {revision!r} differs from the source's @{rev}", field="revision")
    return rev


__all__ = ["BUILTIN", "NAME_PATTERN", "PROVIDERS", "TASK_TYPES", "ModelSpec", "check_name", "check_provider",
           "check_revision", "check_source", "hub_revision_matches", "parse_hub", "source_kind", "under_roots"]
