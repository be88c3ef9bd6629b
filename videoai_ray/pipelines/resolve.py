"""A step's input with its references replaced by the values of the steps it refers to.

A value that names a file in the artifact store (an earlier step's output file, e.g. the
subtitles a subtitle step wrote) is handed to the step as an upload of the pipeline's owner
(``upload://``), copied under that user's own prefix: the worker then resolves it like any SDK
upload, under the one URL policy and only for that user. Nothing else ever names a server file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactStore, safe_name
from ..errors import InvalidInput
from ..models import Task
from .spec import PipelineStep, Ref, parse_ref


def resolve_input(step: PipelineStep, done: dict[str, Task], user_id: str, artifacts: ArtifactStore) -> dict[str, Any]:
    """``step``'s input for its task; ``done`` holds the completed tasks of the steps it needs.
    ``InvalidInput`` naming the field when a referenced value does not exist."""
    out: dict[str, Any] = {}
    for name, value in step.input.items():
        ref = parse_ref(value)
        if ref is None:
            out[name] = value
            continue
        task = done[ref.step]
        found = _dig(task.output if ref.where == "output" else task.input, ref, name)
        if ref.as_ == "cues":
            found = _cues(found, ref, name)
        out[name] = _hand_over(found, user_id, artifacts)
    return out


def _dig(value: Any, ref: Ref, field: str) -> Any:
    for part in ref.path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            where = ".".join((ref.where, *ref.path))
            raise InvalidInput(f"{field}: step {ref.step!r} has no {where}")
    return value


def _cues(value: Any, ref: Ref, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) and {"start", "end"} <= set(v) for v in value):
        raise InvalidInput(f"{field}: {ref.step}.{'.'.join((ref.where, *ref.path))} is not a list of timed "
                           "segments (start, end, text)")
    return [{"start": v["start"], "end": v["end"], "text": v.get("text")} for v in value if v["end"] > v["start"]]


def _hand_over(value: Any, user_id: str, artifacts: ArtifactStore) -> Any:
    """An artifact URL as an upload of ``user_id``; any other value as it is."""
    if not isinstance(value, str) or not artifacts.owns(value):
        return value
    if artifacts.is_local:
        return artifacts.put_upload(user_id, artifacts.local_path(value))
    with tempfile.TemporaryDirectory(prefix="videoai-pipeline-") as tmp:
        path = Path(tmp) / safe_name(value.rsplit("/", 1)[-1])
        path.write_bytes(artifacts.read_bytes(value))
        return artifacts.put_upload(user_id, path)


__all__ = ["resolve_input"]
