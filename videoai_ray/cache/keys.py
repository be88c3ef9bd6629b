"""Content-addressed cache keys.

A key is the SHA-256 of a canonical JSON document holding the key format version, the task type
and the normalised media input. Two requests that ask for the same media get the same key
whatever their key order, surrounding whitespace or delivery options; anything that changes the
output changes the key. The caller passes only the media input: priority, webhook and metadata
are not part of the work and must stay out of it.

Bump :data:`KEY_VERSION` whenever normalisation or the output format changes: every old entry
then becomes unreachable and ages out of each layer on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

from ..models import TaskType

#: prefix of every key; part of the hashed document too
KEY_VERSION = "v1"

#: JSON values the normaliser returns
JSONValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def normalise_input(value: object) -> JSONValue:
    """Return ``value`` in canonical form: strings stripped, ``None`` fields dropped, tuples as
    lists, enums as their values, integral floats as ints (``5.0`` and ``5`` ask for the same work).

    Raises ``TypeError`` for anything that is not plain JSON data (dump pydantic models with
    ``model_dump(mode="json")`` first) and ``ValueError`` for NaN or infinity, so a key never
    depends on a ``repr``.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cache key input holds a non-finite number: {value!r}")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"cache key input has a non-string field name: {k!r}")
            if v is not None:
                out[k] = normalise_input(v)
        return out
    if isinstance(value, list | tuple):
        return [normalise_input(v) for v in value]
    raise TypeError(
        f"cache key input holds a {type(value).__name__}; pass JSON data (model_dump(mode='json'))"
    )


def canonical_json(task_type: TaskType | str, media_input: Mapping[str, Any], scope: str = "",
                   inputs: Mapping[str, Any] | None = None) -> str:
    """The exact text that is hashed: sorted keys, no whitespace, UTF-8 kept as is. A ``scope``
    (``user:<id>`` or ``tenant:<id>``) is part of it, so results are shared only within it; so is
    ``inputs``, the identity of each input read in place under a root (``{field: {"etag", "size"}}``,
    found at submit without reading the object), so a changed object is another key."""
    doc = {
        "version": KEY_VERSION,
        "task_type": TaskType(task_type).value,
        "input": normalise_input(media_input),
    }
    if scope:
        doc["scope"] = scope
    if inputs:
        doc["inputs"] = normalise_input(inputs)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(task_type: TaskType | str, media_input: Mapping[str, Any], scope: str = "",
              inputs: Mapping[str, Any] | None = None) -> str:
    """``"v1:<sha256 hex>"`` for this task type and media input (within ``scope``; ``""``: shared
    by everyone).

    ``task_type`` must be a :class:`TaskType` (or its value): an unknown type raises ``ValueError``
    rather than silently sharing keys with nothing.
    """
    digest = hashlib.sha256(canonical_json(task_type, media_input, scope, inputs).encode("utf-8")).hexdigest()
    return f"{KEY_VERSION}:{digest}"
