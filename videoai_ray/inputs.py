"""Trusted input roots: inputs a task names in place, under a prefix the deployment grants.

``VIDEOAI_INPUT_ROOTS`` lists fsspec URL prefixes (``s3://corpus/``, ``/mnt/shared/media/``);
``VIDEOAI_INPUT_ROOTS_BY_USER`` narrows them per user for the SDK, and
``VIDEOAI_INPUT_ROOTS_HTTP_BY_USER`` grants some of them to a user over HTTP (where, without a
grant, inputs stay http(s) URLs). ``VIDEOAI_INPUT_ROOTS_BY_TENANT`` and
``VIDEOAI_INPUT_ROOTS_HTTP_BY_TENANT`` do the same for every user of a tenant (the tenant of the
owner id ``<tenant>/<user>``); a user's own entry comes first and must lie under its tenant's.
A task may then name an object under a granted root in ``audio_url`` / ``image_url`` /
``subtitles_url``; the worker reads it through fsspec with the
deployment's storage options, streaming, and nothing is copied into the artifact store or read by
the driver (which only asks for the object's identity: existence, ETag or version, size).

Every URL is canonicalised before it is compared with a root, and refused rather than repaired:
fsspec chains (``simplecache::``, ``zip::``), glob characters, ``%`` escapes, backslashes,
``.``/``..`` or empty path segments, credentials in the URL, and, for a local root, a path whose
symlinks lead out of the root. The same check runs at submit and again in the worker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputNotFound, InvalidInput, RetryableError
from .storage import url_to_fs
from .tenants.ids import tenant_of

if TYPE_CHECKING:
    from .settings import Settings

#: characters fsspec expands (globs) or that hide a path (query, fragment, escapes, backslashes)
_REFUSED_CHARS = frozenset("*?[]{}#%\\")
_PROTOCOL = re.compile(r"^[a-z][a-z0-9+.-]{0,30}$")
#: protocols that are never an input root: the URL policy and the uploads cover them
NOT_ROOT_PROTOCOLS = frozenset({"http", "https", "upload"})
#: the same store under another name
_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs", "local": "file"}


class InputRefused(ValueError):
    """A URL that is not a canonical input under a granted root (the message says why)."""


class InputMissing(InputRefused):
    """A URL under a granted root that names no object."""


def is_root_url(url: str) -> bool:
    """Whether ``url`` is meant as an input under a root (not http(s), not an SDK upload)."""
    head = url.split("://", 1)[0].lower() if "://" in url else ""
    return head not in NOT_ROOT_PROTOCOLS


def canonical(url: str) -> str:
    """``url`` in its one canonical form (``file:///abs/path`` for a local path, ``s3://b/k``), or
    ``InputRefused`` for anything that could name another object than it seems to."""
    if "::" in url:
        raise InputRefused("must be a single storage URL (fsspec chains such as simplecache:: are not accepted)")
    bad = sorted(_REFUSED_CHARS.intersection(url))
    if bad:
        raise InputRefused(f"must not hold {' '.join(bad)} (glob characters, escapes, queries are not accepted)")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InputRefused("must not hold control characters")
    if "://" in url:
        protocol, rest = url.split("://", 1)
        protocol = protocol.lower()
        if not _PROTOCOL.match(protocol):
            raise InputRefused("has an unknown scheme")
    else:
        protocol, rest = "file", url
    protocol = _ALIASES.get(protocol, protocol)
    if protocol in NOT_ROOT_PROTOCOLS:
        raise InputRefused("is not a storage URL")
    if protocol == "file":
        if not rest.startswith("/"):
            raise InputRefused("must be an absolute http:// or https:// URL, or a storage URL or absolute path "
                               "under a granted input root (local files: upload them with the SDK)")
        path = rest
    else:
        bucket, _, _key = rest.partition("/")
        if not bucket or "@" in bucket or ":" in bucket:
            raise InputRefused("must name a bucket, without credentials or a port")
        path = "/" + rest
    segments = path.split("/")[1:]
    inner = segments[:-1] if segments and segments[-1] == "" else segments
    if any(s in ("", ".", "..") for s in inner):
        raise InputRefused("must not hold '.', '..' or empty path segments")
    return f"file://{path}" if protocol == "file" else f"{protocol}://{rest}"


def canonical_root(root: str) -> str:
    """A root in canonical form, ending with ``/`` (a setting: ``ValueError`` when it is not one)."""
    try:
        value = canonical(root.strip())
    except InputRefused as e:
        raise ValueError(f"input root {root!r} {e}") from None
    return value if value.endswith("/") else value + "/"


def narrowed_grants(grants: Mapping[str, Any], roots: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Per-user grants in canonical form, each under one of the deployment's ``roots``
    (``ValueError`` otherwise): a grant can narrow the roots, never widen them."""
    out: dict[str, tuple[str, ...]] = {}
    for user, items in grants.items():
        canon = tuple(canonical_root(r) for r in items)
        for r in canon:
            if not any(r.startswith(root) for root in roots):
                raise ValueError(f"{user!r} is granted {r}, which is under no VIDEOAI_INPUT_ROOTS entry")
        out[user] = canon
    return out


def under_tenant_grants(user_grants: Mapping[str, tuple[str, ...]],
                        tenant_grants: Mapping[str, tuple[str, ...]]) -> None:
    """``ValueError`` when a tenant user's grant (owner id ``<tenant>/<user>``) is not under its
    tenant's grant of the same door (where the tenant has one): a user's entry narrows its
    tenant's further, never widens it."""
    for user, roots in user_grants.items():
        tenant = tenant_of(user)
        if tenant is None or tenant not in tenant_grants:
            continue
        for r in roots:
            if not any(r.startswith(t) for t in tenant_grants[tenant]):
                raise ValueError(f"{user!r} is granted {r}, which is under no entry of its tenant {tenant!r}")


def granted_roots(settings: Settings, user_id: str, *, http: bool) -> tuple[str, ...]:
    """The roots ``user_id`` (an owner id) may name inputs under, through the SDK or (``http``)
    over HTTP: the user's own entry, else its tenant's, else (SDK only) the deployment's."""
    by_user, by_tenant = ((settings.input_roots_http_by_user, settings.input_roots_http_by_tenant) if http
                          else (settings.input_roots_by_user, settings.input_roots_by_tenant))
    if user_id in by_user:
        return by_user[user_id]
    tenant = tenant_of(user_id)
    if tenant is not None and tenant in by_tenant:
        return by_tenant[tenant]
    return () if http else settings.input_roots


def worker_roots(settings: Settings, user_id: str) -> tuple[str, ...]:
    """What the worker admits for ``user_id``: the roots granted through either door (none for a
    task without a user: a default grant must never reach an attempt that names nobody)."""
    if not user_id:
        return ()
    return granted_roots(settings, user_id, http=False) + granted_roots(settings, user_id, http=True)


def check_granted(url: str, roots: tuple[str, ...]) -> str:
    """The canonical form of ``url`` when it lies under one of ``roots`` (for a local root, after
    following its symlinks), else ``InputRefused``."""
    value = canonical(url)
    if value.startswith("file://"):
        real = os.path.realpath(value.removeprefix("file://"))
        for root in roots:
            if root.startswith("file://"):
                base = os.path.realpath(root.removeprefix("file://"))
                if os.path.commonpath([base, real]) == base and real != base:
                    return "file://" + real
        raise InputRefused("is not under an input root granted to this user (symlinks are followed; other local "
                           "files: upload them with the SDK)")
    if any(value.startswith(root) for root in roots):
        return value
    raise InputRefused("is not under an input root granted to this user")


def _local(url: str) -> str:
    return url.removeprefix("file://")


def identity(url: str, settings: Settings) -> dict[str, Any]:
    """What names this version of the object at canonical ``url`` without reading it: ETag or
    version and size (object stores), mtime and size (local files). ``InputMissing`` when there
    is none, ``InputRefused`` when it cannot be read or is not a file."""
    if url.startswith("file://"):
        try:
            st = os.stat(_local(url))
        except FileNotFoundError:
            raise InputMissing("does not exist") from None
        except OSError:
            raise InputRefused("cannot be read") from None
        if not Path(_local(url)).is_file():
            raise InputRefused("is not a file")
        return {"mtime_ns": st.st_mtime_ns, "size": st.st_size}
    try:
        fs, path = url_to_fs(url, settings.storage_options)
        info = fs.info(path)
    except FileNotFoundError:
        raise InputMissing("does not exist") from None
    except PermissionError:
        raise InputRefused("cannot be read with the deployment's storage credentials") from None
    except Exception as e:  # an outage, a bad endpoint: the message never carries the options
        raise InputRefused(f"could not be checked now ({type(e).__name__})") from None
    if info.get("type") != "file":
        raise InputRefused("is not a file")
    return identity_of(info)


def identity_of(info: Mapping[str, Any]) -> dict[str, Any]:
    """The identity in an fsspec ``info`` answer: version or ETag and size (else mtime and size)."""
    ident: dict[str, Any] = {"size": int(info.get("size") or 0)}
    for name in ("VersionId", "generation", "version_id", "ETag", "etag", "md5Hash"):
        if info.get(name):
            ident[name.lower()] = str(info[name]).strip('"')
    if len(ident) == 1:  # a store that gives neither: the modification time stands in
        ident["mtime"] = str(info.get("LastModified") or info.get("mtime") or info.get("updated") or "")
    return ident


def _same(expected: Mapping[str, Any] | None, found: Mapping[str, Any]) -> None:
    """``InvalidInput`` when the object is not the version the task was submitted with (the
    task's cache key names that version; reading another would file its result under it)."""
    if expected is None:
        return
    # compared by what both sides hold (a listing answers without a version, a HEAD with one)
    common = [k for k in _IDENTITY_KEYS if k in expected and k in found]
    if expected.get("size") != found.get("size") or any(expected[k] != found[k] for k in common):
        raise InvalidInput("the input changed after the task was submitted: submit it again")


#: the fields of an identity besides ``size``
_IDENTITY_KEYS = ("versionid", "generation", "version_id", "etag", "md5hash", "mtime_ns", "mtime")


def identities(urls: Iterable[str], settings: Settings, workers: int = 16) -> dict[str, dict[str, Any] | InputRefused]:
    """``identity`` of many canonical URLs at once, ``workers`` requests in flight (a batch's
    metadata requests would otherwise cost one round trip each); a refusal is kept as its value."""
    distinct = list(dict.fromkeys(urls))

    def one(url: str) -> dict[str, Any] | InputRefused:
        try:
            return identity(url, settings)
        except InputRefused as e:
            return e

    if len(distinct) <= 1:
        return {u: one(u) for u in distinct}
    with ThreadPoolExecutor(max_workers=min(workers, len(distinct)), thread_name_prefix="videoai-identity") as pool:
        return dict(zip(distinct, pool.map(one, distinct), strict=True))


def open_root_input(url: str, settings: Settings, user_id: str, scratch: Path, limit: int,
                    expected: Mapping[str, Any] | None = None) -> Path:
    """The worker's read of an input under a root: checked again for ``user_id``; a local file is
    used where it is, an object is streamed to ``scratch`` (never through the artifact store).
    ``expected``: its identity at submit, which the object must still have. ``InvalidInput`` /
    ``InputNotFound`` (permanent) or ``RetryableError`` (an outage)."""
    try:
        value = check_granted(url, worker_roots(settings, user_id))
    except InputRefused as e:
        raise InvalidInput(f"the input {e}") from None
    if value.startswith("file://"):
        path = Path(_local(value))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InputNotFound("the input does not exist") from None
        except OSError:
            raise InvalidInput("the input cannot be read") from None
        if not path.is_file():
            raise InvalidInput("the input is not a file")
        if size > limit:
            raise InvalidInput(f"the input is over the {limit} byte limit")
        st = path.stat()
        _same(expected, {"mtime_ns": st.st_mtime_ns, "size": st.st_size})
        return path
    suffix = Path(value).suffix[:16]
    dest = scratch / ("input" + (suffix if suffix.isascii() else ""))
    try:
        fs, path_in_fs = url_to_fs(value, settings.storage_options)
        with fs.open(path_in_fs, "rb") as src, dest.open("wb") as out:
            # s3fs and most object stores answer the open with the object's details: no extra request
            details = getattr(src, "details", None)
            _same(expected, identity_of(details if isinstance(details, Mapping) else fs.info(path_in_fs)))
            copied = 0
            while block := src.read(1 << 20):
                copied += len(block)
                if copied > limit:
                    raise InvalidInput(f"the input is over the {limit} byte limit")
                out.write(block)
    except (InvalidInput, InputNotFound):
        raise
    except FileNotFoundError:
        raise InputNotFound("the input does not exist") from None
    except PermissionError:
        raise InvalidInput("the input cannot be read with the deployment's storage credentials") from None
    except IsADirectoryError:
        raise InvalidInput("the input is not a file") from None
    except Exception as e:  # transient (network, throttling): retried; never the options in the text
        raise RetryableError(f"the input could not be read now ({type(e).__name__})") from None
    return dest


__all__ = ["InputMissing", "InputRefused", "canonical", "canonical_root", "check_granted", "granted_roots",
           "identities", "identity", "is_root_url", "narrowed_grants", "open_root_input", "under_tenant_grants",
           "worker_roots"]
