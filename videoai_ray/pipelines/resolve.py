"""A step's input with its references replaced by the values of the steps it refers to.

What a reference may carry (its provenance decides, never what the value looks like):

- ``<step>.input.<path>`` is a value the user wrote (or one a reference gave that step): the
  user's own input, passed on as it is. The runner then checks it exactly as if it had been
  written in the target field, under the rules of the door the pipeline came through (over HTTP:
  ``http(s)`` URLs only, never ``upload://``).
- ``<step>.output.<path>`` is a value the step's task produced. If it is one of that task's own
  output files (a URL of the artifact store, at a URL key of the task's output, in the task's own
  folder, or in the folder of the task whose cached result answered it), the file is handed to
  the step as an upload of the pipeline's owner (``upload://``, copied under that user's own
  prefix): the worker resolves it like any SDK upload, only for that user. Any other value is a
  plain value, checked like input.

So a string that merely looks like an artifact URL (a literal in a step's input, say) is never
read. Whatever goes wrong while resolving is ``InvalidReference`` naming the step, the field and
the reference, and never the value (it may be a server path).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactStore, output_urls, safe_name
from ..errors import InvalidReference
from ..models import Task
from .spec import PipelineStep, Ref, is_index, parse_ref

log = logging.getLogger("videoai.pipelines")


@dataclass(frozen=True)
class Resolved:
    """A step's input with its references replaced."""

    body: dict[str, Any]
    #: the fields that held a reference, and the reference
    refs: dict[str, Ref]
    #: the fields holding a file an earlier step of the pipeline made (handed over as an upload)
    handed: frozenset[str]


def resolve_input(step: PipelineStep, done: dict[str, Task], user_id: str, artifacts: ArtifactStore) -> Resolved:
    """``step``'s input for its task; ``done`` holds the completed tasks of the steps it needs.
    ``InvalidReference`` naming the field and the reference when a value cannot be given."""
    body: dict[str, Any] = {}
    refs: dict[str, Ref] = {}
    handed: set[str] = set()
    for name, value in step.input.items():
        ref = parse_ref(value)
        if ref is None:
            body[name] = value
            continue
        refs[name] = ref
        try:
            body[name], is_file = _value(step.id, name, ref, done[ref.step], user_id, artifacts)
        except InvalidReference:
            raise
        except FileNotFoundError:
            raise InvalidReference(step.id, ref.text, name, "the file it names no longer exists") from None
        except Exception:
            # an unforeseen fault: logged with its traceback here, never shown to the user
            log.error("pipeline step %s: resolving %s failed", step.id, ref.text, exc_info=True)
            raise InvalidReference(step.id, ref.text, name, "the value could not be resolved") from None
        if is_file:
            handed.add(name)
    return Resolved(body, refs, frozenset(handed))


def _value(step: str, field: str, ref: Ref, task: Task, user_id: str,
           artifacts: ArtifactStore) -> tuple[Any, bool]:
    """The value ``ref`` gives, and whether it is a file handed over."""
    found = _dig(task.output if ref.where == "output" else task.input, ref, step, field)
    if ref.as_ == "cues":
        return _cues(found, ref, step, field), False
    if ref.where == "output" and isinstance(found, str) and made_by(task, found, artifacts):
        return _hand_over(found, user_id, artifacts), True
    return found, False


def _dig(value: Any, ref: Ref, step: str, field: str) -> Any:
    for part in ref.path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and is_index(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            raise InvalidReference(step, ref.text, field, f"step {ref.step!r} has no such {ref.where} value")
    return value


def _cues(value: Any, ref: Ref, step: str, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) and {"start", "end"} <= set(v) for v in value):
        raise InvalidReference(step, ref.text, field, "not a list of timed segments (start, end, text)")
    return [{"start": v["start"], "end": v["end"], "text": v.get("text")} for v in value if v["end"] > v["start"]]


def made_by(task: Task, url: str, artifacts: ArtifactStore) -> bool:
    """Whether ``url`` is a file ``task`` produced: a URL of the artifact store at a URL key of its
    output (``url`` / ``*_url``), written plainly (no ``..``) in the task's own folder, or, for a
    result answered from the cache, in the folder of the task that computed it (never uploads)."""
    if not artifacts.owns(url) or url not in set(output_urls(task.output)):
        return False
    folder = artifacts.output_folder(url, task.user_id)  # inside the owner's own space (its tenant's)
    return folder is not None and (folder == task.id or task.cache_hit)


def _hand_over(url: str, user_id: str, artifacts: ArtifactStore) -> str:
    """A file of the artifact store as an upload of ``user_id``."""
    if artifacts.is_local:
        return artifacts.put_upload(user_id, artifacts.local_path(url))
    with tempfile.TemporaryDirectory(prefix="videoai-pipeline-") as tmp:
        path = Path(tmp) / safe_name(url.rsplit("/", 1)[-1])
        path.write_bytes(artifacts.read_bytes(url))
        return artifacts.put_upload(user_id, path)


__all__ = ["Resolved", "made_by", "resolve_input"]
