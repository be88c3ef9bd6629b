"""The task record, in every form it takes, and the conversions between them.

A task is written in one shape and converted here, nowhere else:

- the **submission**: the dict ``MediaService.prepare`` makes from a validated body (``id``,
  ``type``, ``user_id``, ``priority``, ``input``, ``options``, ``webhook_url``,
  ``webhook_secret``, ``webhook_events``, ``metadata``, ``idempotency_key``, ``batch_id``,
  ``max_retries``, ``request_hash``);
- the **row**: the column values of ``store.schema.tasks`` (``row_from_submission``);
- the **model**: ``Task``, what every entry point returns (``task_from_row``);
- the **JSON** of a task just accepted, built without the model (``submitted_task_json``);
- the **in-flight state**: the Scheduler's ``Active`` (``active_from_submission`` for a new task,
  ``active_from_task`` for one loaded from the store).

Validation, which refuses a body with an error naming the field, happens once, at the edge
(``MediaService.validate``). The Scheduler only parses a task's media input into its typed
request (``request_from_input``), which never refuses; the worker re-checks the input at its
trust boundary before provider code runs (``attempts.recheck_at_worker``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..clock import aware, utcnow
from ..redact import public_message
from .enums import Priority, TaskStatus, TaskType
from .requests import REQUEST_MODELS, TaskRequest
from .task import Task, TaskError

# -- the row -----------------------------------------------------------------------------------


def row_from_submission(item: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
    """The row of a newly accepted task (pending, no attempt yet)."""
    return {
        "id": item["id"], "type": item["type"], "status": "pending", "priority": item["priority"],
        "user_id": item["user_id"], "input": item["input"], "output": None, "provider": None, "attempts": 0,
        "max_retries": item["max_retries"], "error_code": None, "error_message": None, "error_retryable": None,
        "progress": 0.0, "progress_message": None, "cost": None, "created_at": now, "started_at": None,
        "finished_at": None,
        "next_attempt_at": None, "webhook_url": item.get("webhook_url"), "webhook_secret": item.get("webhook_secret"),
        "webhook_events": item.get("webhook_events"), "meta": item["metadata"], "options": item["options"],
        "idempotency_key": item.get("idempotency_key"), "request_hash": item.get("request_hash"),
        "batch_id": item.get("batch_id"), "cache_hit": False, "finish_seq": None,
        # provider A/B experiments: the arm a task joined at intake (``experiments.assign``)
        "experiment_id": item.get("experiment_id"), "experiment_arm": item.get("experiment_arm"),
        # the Ray node (and GPUs) of the last attempt, set by the Scheduler when one ends
        "node": None,
    }


def _task_fields(m: Mapping[Any, Any]) -> dict[str, Any]:
    """The ``Task`` fields of a row's values, in the model's order (error and times as stored)."""
    return {
        "id": m["id"], "type": m["type"], "status": m["status"], "priority": m["priority"], "user_id": m["user_id"],
        "input": m["input"], "output": m["output"], "provider": m["provider"], "attempts": m["attempts"],
        "max_retries": m["max_retries"], "error": None, "progress": m["progress"],
        "progress_message": m.get("progress_message"), "cost": m["cost"],
        "created_at": m["created_at"], "started_at": m["started_at"], "finished_at": m["finished_at"],
        "next_attempt_at": m["next_attempt_at"], "webhook_url": m["webhook_url"], "metadata": m["meta"] or {},
        "idempotency_key": m["idempotency_key"], "batch_id": m["batch_id"], "cache_hit": bool(m["cache_hit"]),
        "experiment_id": m.get("experiment_id"), "experiment_arm": m.get("experiment_arm"), "node": m.get("node"),
    }


# -- the model and its JSON --------------------------------------------------------------------


def task_from_row(m: Mapping[Any, Any]) -> Task:
    """A ``Task`` from column values (a fetched row's mapping, or a dict just inserted)."""
    fields = _task_fields(m)
    if m["error_code"]:
        message = public_message(m["error_message"], shared=False)  # rows older than the redaction too
        fields["error"] = TaskError(code=m["error_code"], message=message or "",
                                    retryable=bool(m["error_retryable"]))
    fields.update(created_at=aware(m["created_at"]) or utcnow(), started_at=aware(m["started_at"]),
                  finished_at=aware(m["finished_at"]), next_attempt_at=aware(m["next_attempt_at"]))
    return Task(**fields)


def submitted_task_json(item: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a task the Scheduler answered for: its ``"task"`` when it sent one (a
    replayed idempotency key, a cache hit), else the new pending task's row read as JSON, with the
    answer's ``created_at``, without building the model.

    This is the HTTP API's hot path; it equals ``Task.model_dump(mode="json")`` of the row the
    Scheduler stored (tested field by field).
    """
    if answer.get("task") is not None:
        task: dict[str, Any] = answer["task"]
        return task
    fields = _task_fields(row_from_submission(item, None))
    fields["created_at"] = answer["created_at"]
    return fields


# -- the in-flight state -----------------------------------------------------------------------


@dataclass(slots=True)
class Active:
    """The Scheduler's in-memory view of one unfinished task."""

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
    progress_message: str | None = None
    started_at: datetime | None = None
    enqueued_at: float = 0.0
    excluded: set[str] = field(default_factory=set)
    last_progress_event: float = 0.0
    #: the remote job an attempt recorded (``RemoteJob.to_json``): the next attempt re-attaches
    remote_job: dict[str, Any] | None = None
    #: attempts lost with their process (not counted against ``max_retries``; stored in the
    #: options as ``lost_attempts``)
    lost: int = 0

    @property
    def route(self) -> str:
        pinned = self.options.get("provider")
        return f"provider:{pinned}" if pinned else f"type:{self.type.value}"


def active_from_submission(item: Mapping[str, Any]) -> Active:
    """The state of a task just submitted."""
    task_type = TaskType(item["type"])
    return Active(
        id=item["id"], type=task_type, priority=Priority(item["priority"]), user_id=item["user_id"],
        input=item["input"], request=request_from_input(task_type, item["input"]), options=item["options"],
        max_retries=item["max_retries"],
        metadata=item["metadata"], webhook_url=item.get("webhook_url"), webhook_events=item.get("webhook_events"),
        batch_id=item.get("batch_id"),
    )


def request_from_input(task_type: TaskType, media_input: dict[str, Any]) -> TaskRequest:
    """The typed request of a task's media input, for the Scheduler and the providers' planning
    hooks (``supports``, ``estimate_cost``, ``rate_usage``, ``batch_key``). It parses and never
    refuses: a submitted input passed the edge's validation; a stored one that today's rules
    refuse (an older row, or one edited) is built unvalidated, the task runs its course, and the
    worker's re-check (``attempts.recheck_at_worker``) fails it as invalid input before any
    provider code runs. (Pydantic's validator is its fastest parser: several times faster than
    ``model_construct``, and cheaper than sending the edge's model object through Ray.)"""
    model = REQUEST_MODELS[task_type]
    try:
        return model.model_validate(media_input)
    except ValidationError:
        return model.model_construct(**media_input)


def active_from_task(task: Task, options: dict[str, Any] | None = None, webhook_events: list[str] | None = None,
                     remote_job: dict[str, Any] | None = None) -> Active:
    """The state of a task loaded from the store (recovery at start, a manual retry); the other
    arguments are its row's ``TaskStore.in_flight_fields``."""
    options = options or {}
    return Active(
        id=task.id, type=task.type, priority=task.priority, user_id=task.user_id, input=task.input,
        request=request_from_input(task.type, task.input), options=options, max_retries=task.max_retries,
        metadata=task.metadata, webhook_url=task.webhook_url, webhook_events=webhook_events,
        batch_id=task.batch_id, status=task.status, attempts=task.attempts, provider=task.provider,
        progress=task.progress, started_at=task.started_at, excluded=set(options.get("failed_providers") or ()),
        remote_job=remote_job, lost=int(options.get("lost_attempts") or 0),
    )


__all__ = ["Active", "active_from_submission", "active_from_task", "request_from_input",
           "row_from_submission", "submitted_task_json", "task_from_row"]
