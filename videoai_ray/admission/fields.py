"""pydantic's validation errors as ``InvalidRequest`` naming the field: the one shape in which
every door answers bad input (a 4xx whose body names the field over HTTP)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import InvalidRequest


def invalid_field(err: ValidationError, prefix: str = "") -> InvalidRequest:
    return field_error(err.errors(), prefix)


def field_error(errs: list[Any], prefix: str = "") -> InvalidRequest:
    """``InvalidRequest`` naming the field of the first of pydantic's ``errs``."""
    first = errs[0]
    loc = ".".join(str(p) for p in first["loc"]) or "body"
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    # a model-level check reports its field at the start of its message ("cues: ...")
    if loc == "body" and ":" in msg.split(" ")[0]:
        loc, msg = msg.split(":", 1)[0], msg.split(":", 1)[1].strip()
    full = f"{prefix}{loc}" if prefix else loc
    errors = [{"field": f"{prefix}{'.'.join(str(p) for p in e['loc'])}", "message": e["msg"]} for e in errs]
    return InvalidRequest(f"{full}: {msg}", field=full, errors=errors)


__all__ = ["field_error", "invalid_field"]
