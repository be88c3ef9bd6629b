"""The task record as every entry point returns it, and the error stored on a failed task."""

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


def submitted_task_json(item: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a task the Scheduler answered for: its ``"task"`` when it sent one (a
    replayed idempotency key, a cache hit), else the new pending task built from the submission
    (``MediaService.prepare``) and the answer's ``created_at``, without building the model.

    This is the HTTP API's hot path; it equals ``Task.model_dump(mode="json")`` of the row the
    Scheduler stored (tested field by field).
    """
    if answer.get("task") is not None:
        task: dict[str, Any] = answer["task"]
        return task
    return {
        "id": item["id"], "type": item["type"], "status": "pending", "priority": item["priority"],
        "user_id": item["user_id"], "input": item["input"], "output": None, "provider": None, "attempts": 0,
        "max_retries": item["max_retries"], "error": None, "progress": 0.0, "cost": None,
        "created_at": answer["created_at"], "started_at": None, "finished_at": None, "next_attempt_at": None,
        "webhook_url": item.get("webhook_url"), "metadata": item["metadata"],
        "idempotency_key": item.get("idempotency_key"), "batch_id": item.get("batch_id"), "cache_hit": False,
        "experiment_id": item.get("experiment_id"), "experiment_arm": item.get("experiment_arm"),
    }
