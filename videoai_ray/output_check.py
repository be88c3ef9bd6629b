"""The check every attempt's output passes where the result is received (in the worker, before it
travels to the Scheduler): a JSON object within ``max_output_bytes``. An output that fails it fails
its task with ``invalid_output``; it never reaches the Scheduler's shared write, where one bad row
would hold back every other task's change."""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InvalidOutput


def check_output(output: Any, max_bytes: int) -> int:
    """Raise ``InvalidOutput`` unless ``output`` is a dict the store can hold; returns its JSON size."""
    if not isinstance(output, dict):
        raise InvalidOutput(f"output must be a dict, not {type(output).__name__}")
    try:
        text = json.dumps(output, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        where, what = _first_bad(output, "output")
        detail = f"{where} is {what}" if what else str(exc)
        raise InvalidOutput(f"output is not JSON-serialisable: {detail}") from None
    size = len(text.encode())
    if size > max_bytes:
        raise InvalidOutput(
            f"output is {size} bytes as JSON, over the limit of {max_bytes} (VIDEOAI_MAX_OUTPUT_BYTES); "
            "store large data as an artifact (ctx.store_artifact) and return its URL"
        )
    return size


def _first_bad(value: Any, path: str, depth: int = 0) -> tuple[str, str]:
    """The path and type of the first value JSON cannot hold (for the error message)."""
    if depth > 100:
        return path, "nested too deeply"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str | int | float | bool) and k is not None:
                return f"{path} key {k!r}", f"a {type(k).__name__}"
            found = _first_bad(v, f"{path}.{k}", depth + 1)
            if found[1]:
                return found
        return path, ""
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _first_bad(v, f"{path}[{i}]", depth + 1)
            if found[1]:
                return found
        return path, ""
    if isinstance(value, float) and not math.isfinite(value):
        return path, f"the float {value} (JSON has no NaN or infinity)"
    if value is None or isinstance(value, str | int | float | bool):
        return path, ""
    return path, f"a {type(value).__name__}"


__all__ = ["check_output"]
