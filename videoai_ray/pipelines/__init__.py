"""Pipelines: small DAGs of tasks in which a step's input refers to outputs of earlier steps.

- ``spec``: the spec, references (``{"$ref": "step.output.path"}``), unknown-step and cycle checks
- ``model``: the record every entry point returns, step task ids, statuses
- ``rows``: the ``pipelines`` table, and ``pipeline_row`` (a validated spec's row)
- ``validation``: a spec checked in full, a step's input checked once resolved
- ``resolve``: a step's input with its references replaced (output files handed over as uploads)
- ``runner``: advances pipelines from inside the Scheduler

These live below the door (``service.py``), inside or under the Scheduler; the modules above it,
which this package does not import, are:

- ``service``: ``PipelineService`` (owned by ``MediaService``)
- ``handle``, ``widget``: the SDK's ``Pipeline`` handle, its step futures and live view
"""

from __future__ import annotations

from typing import Any

from .model import PipelineRecord, PipelineStatus, StepState, step_task_id
from .rows import pipeline_row
from .spec import PipelineSpec, PipelineStep


def ref(target: str, *, as_: str | None = None) -> dict[str, Any]:
    """A reference to an earlier step's value, for a step's input: ``ref("transcribe.output.text")``;
    ``as_="cues"`` turns a transcript's segments into subtitle cues."""
    out: dict[str, Any] = {"$ref": target}
    if as_ is not None:
        out["as"] = as_
    return out


def step(step_id: str, task_type: str, *, after: list[str] | None = None, priority: str | None = None,
         **body: Any) -> dict[str, Any]:
    """A step of a pipeline spec: ``step("subs", "subtitle_generation", text=ref("asr.output.text"))``."""
    out: dict[str, Any] = {"id": step_id, "task_type": task_type, "input": body}
    if after:
        out["after"] = after
    if priority is not None:
        out["priority"] = priority
    return out


__all__ = ["PipelineRecord", "PipelineSpec", "PipelineStatus", "PipelineStep", "StepState",
           "pipeline_row", "ref", "step", "step_task_id"]
