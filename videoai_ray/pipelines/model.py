"""A pipeline as every entry point returns it: its status and each step's state, derived from the
step tasks (a step's task id follows from the pipeline id and the step id)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..models import Task, TaskError, TaskType
from ..redact import public_error

_ID_NAMESPACE = uuid.UUID("0b7c4f0e-2f57-4b8a-9d3e-5c0b1f6a7e21")


class PipelineStatus(str, Enum):
    """Where a pipeline is; every status but ``running`` is terminal."""

    #: some steps have not completed yet
    RUNNING = "running"
    #: every step completed
    COMPLETED = "completed"
    #: a step failed (or was cancelled on its own); the remaining steps were cancelled
    FAILED = "failed"
    #: cancelled on request, with its remaining steps
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self is not PipelineStatus.RUNNING


#: a step's state before its task exists (its inputs are not ready), or when it never will
WAITING = "waiting"
SKIPPED = "skipped"


def new_pipeline_id() -> str:
    return "pipe_" + uuid.uuid4().hex


def step_task_id(pipeline_id: str, step_id: str) -> str:
    """The task id of a pipeline's step: the same every time, so a step is never submitted twice
    (a re-sent submission is answered as existing)."""
    return "task_" + uuid.uuid5(_ID_NAMESPACE, f"{pipeline_id}:{step_id}").hex


class StepState(BaseModel):
    """One step: its task (``task_id`` is known before the task exists) and the task's state;
    ``status`` is ``waiting`` before the task is submitted and ``skipped`` if it never was."""

    model_config = ConfigDict(frozen=True)

    id: str
    task_type: TaskType
    task_id: str
    needs: list[str]
    status: str
    progress: float = 0.0
    provider: str | None = None
    output: dict[str, Any] | None = None
    error: TaskError | None = None
    cost: float | None = None


class PipelineRecord(BaseModel):
    """A pipeline: status, the failed step's error, and every step in the order given."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: PipelineStatus
    user_id: str
    created_at: datetime
    finished_at: datetime | None = None
    #: why it failed: ``{"step", "code", "message"}``
    error: dict[str, Any] | None = None
    metadata: dict[str, Any] = {}
    idempotency_key: str | None = None
    steps: list[StepState]

    @property
    def done(self) -> bool:
        return self.status.terminal

    def step(self, step_id: str) -> StepState:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def outputs(self) -> dict[str, dict[str, Any] | None]:
        """Each step's output (``None`` for a step that has none)."""
        return {s.id: s.output for s in self.steps}


def build_record(row: dict[str, Any], tasks: dict[str, Task],
                 show: Callable[[dict[str, Any] | None, str], dict[str, Any] | None] | None = None) -> PipelineRecord:
    """The record of a stored pipeline ``row`` from its step ``tasks`` (by task id); ``show`` maps
    a step's output for the caller (over HTTP: download paths instead of storage URLs)."""
    from .spec import PipelineSpec

    spec = PipelineSpec.model_validate(row["spec"])
    status = PipelineStatus(row["status"])
    steps = []
    for step in spec.steps:
        tid = step_task_id(row["id"], step.id)
        t = tasks.get(tid)
        if t is None:
            steps.append(StepState(id=step.id, task_type=step.task_type, task_id=tid, needs=step.needs(),
                                   status=SKIPPED if status.terminal else WAITING))
            continue
        steps.append(StepState(id=step.id, task_type=step.task_type, task_id=tid, needs=step.needs(),
                               status=t.status.value, progress=t.progress, provider=t.provider,
                               output=show(t.output, tid) if show else t.output, error=t.error, cost=t.cost))
    return PipelineRecord(id=row["id"], status=status, user_id=row["user_id"], created_at=row["created_at"],
                          finished_at=row["finished_at"], error=public_error(row["error"]), metadata=row["meta"] or {},
                          idempotency_key=row["idempotency_key"], steps=steps)


__all__ = ["SKIPPED", "WAITING", "PipelineRecord", "PipelineStatus", "StepState", "build_record", "new_pipeline_id",
           "step_task_id"]
