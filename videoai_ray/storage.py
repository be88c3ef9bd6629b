"""Opening fsspec URLs with the deployment's storage options.

``VIDEOAI_STORAGE_OPTIONS`` holds, per URL protocol, the keyword arguments its fsspec filesystem
takes (for S3-compatible stores: ``{"s3": {"endpoint_url": "http://minio:9000"}}``). The options
travel with the settings to every process of the deployment, so a worker on any node opens the
same bucket the same way. Credentials are best left to each node's own environment (instance
roles, ``AWS_*`` variables); options named ``key``, ``secret``, ``token`` or ``password`` are
never printed (:func:`redacted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fsspec

#: option names whose values are secrets (never in a log line, an error or a row)
SECRET_OPTIONS = frozenset({"key", "secret", "token", "password", "session_token", "aws_secret_access_key"})


def protocol_of(url: str) -> str:
    """The first protocol of ``url`` (``file`` for a plain path)."""
    head, sep, _ = url.partition("://")
    return head.split("::")[-1].lower() if sep else "file"


def options_for(url: str, options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The fsspec keyword arguments for ``url``'s protocol (``s3a``/``s3n`` count as ``s3``)."""
    protocol = protocol_of(url)
    if protocol in ("s3a", "s3n"):
        protocol = "s3"
    return dict(options.get(protocol) or {})


def url_to_fs(url: str, options: Mapping[str, Mapping[str, Any]]) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and path of ``url``, opened with the deployment's options."""
    fs, path = fsspec.core.url_to_fs(url, **options_for(url, options))
    return fs, path


def redacted(options: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``options`` with every secret value replaced, for logs and ``videoai config``."""
    return {
        proto: {k: ("***" if k.lower() in SECRET_OPTIONS else v) for k, v in (kw or {}).items()}
        for proto, kw in options.items()
    }
