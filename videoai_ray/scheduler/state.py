"""The Scheduler's in-memory view of one unfinished task, and its conversions to and from rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..models import REQUEST_MODELS, Priority, Task, TaskRequest, TaskStatus, TaskType


@dataclass(slots=True)
class Active:
    id: str
    type: TaskType
    priority: Priority
    user_id: str
    input: dict[str, Any]
    request: TaskRequest
    options: dict[str, Any]
    max_retries: int
    metadata: dict[str, Any]
    webhook_url: str | None = None
    webhook_events: list[str] | None = None
    batch_id: str | None = None
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    provider: str | None = None
    progress: float = 0.0
    started_at: datetime | None = None
    enqueued_at: float = 0.0
    excluded: set[str] = field(default_factory=set)
    last_progress_event: float = 0.0
    #: the remote job an attempt recorded (``RemoteJob.to_json``): the next attempt re-attaches
    remote_job: dict[str, Any] | None = None

    @property
    def route(self) -> str:
        pinned = self.options.get("provider")
        return f"provider:{pinned}" if pinned else f"type:{self.type.value}"


def active_from_task(task: Task, options: dict[str, Any], webhook_events: list[str] | None = None,
                     remote_job: dict[str, Any] | None = None) -> Active:
    model = REQUEST_MODELS[task.type]
    try:
        request = model.model_validate(task.input)
    except ValidationError:
        # a stored input that today's rules refuse (an older row, or one edited): the task still
        # runs its course, and the worker, which validates again, fails it as invalid input
        request = model.model_construct(**task.input)
    return Active(
        id=task.id, type=task.type, priority=task.priority, user_id=task.user_id, input=task.input,
        request=request, options=options, max_retries=task.max_retries, metadata=task.metadata,
        webhook_url=task.webhook_url, webhook_events=webhook_events, batch_id=task.batch_id,
        status=task.status, attempts=task.attempts, provider=task.provider, progress=task.progress,
        started_at=task.started_at, excluded=set(options.get("failed_providers") or ()), remote_job=remote_job,
    )
