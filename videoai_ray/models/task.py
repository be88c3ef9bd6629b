"""The task as every entry point returns it, and the error stored on a failed task (its other
forms and the conversions between them: ``models.record``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .enums import Priority, TaskStatus, TaskType


class TaskError(BaseModel):
    """Why the last attempt failed."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    retryable: bool = False


class Task(BaseModel):
    """A task as stored; the webhook secret is never part of it."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: TaskType
    status: TaskStatus
    priority: Priority
    user_id: str
    input: dict[str, Any]
    output: dict[str, Any] | None = None
    provider: str | None = None
    attempts: int = 0
    max_retries: int = 3
    error: TaskError | None = None
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    #: what ``progress`` measures now, when the worker says: ``downloading weights of <model>:
    #: 12.3 of 40.0 MB`` while a pool actor fetches the model the task names (``None``: the work)
    progress_message: str | None = None
    cost: float | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    webhook_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    batch_id: str | None = None
    cache_hit: bool = False
    #: the provider A/B experiment the task joined at intake, and its arm (see docs/experiments.md)
    experiment_id: str | None = None
    experiment_arm: str | None = None
    #: where the last attempt ran: ``node_id`` and ``ip`` of the Ray node, ``gpu_ids`` when Ray
    #: gave it GPUs (``None`` before the first attempt ends, and for a cache hit)
    node: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.status.terminal

    @property
    def duration(self) -> float | None:
        """Seconds from the first start to the end, when both are known."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


_DATETIME = TypeAdapter(datetime)


def json_time(value: datetime) -> str:
    """A timestamp as a task's JSON form writes it."""
    return str(_DATETIME.dump_python(value, mode="json"))
