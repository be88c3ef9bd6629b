"""The task record, in every form it takes, and the conversions between them.

A task is written in one shape and converted here, nowhere else:

- the **submission**: the dict ``Admission.prepare`` makes from a validated body, typed and its
  fields listed once in ``protocol.Submission``;
- the **row**: the column values of ``store.schema.tasks`` (``row_from_submission``: each field
  of the submission in its column, the rest as a pending task's);
- the **model**: ``Task``, what every entry point returns (``task_from_row``);
- the **JSON** of a task just accepted, built without the model (``submitted_task_json``);
- the **in-flight state**: the Scheduler's ``Active`` (``active_from_submission`` for a new task,
  ``active_from_task`` for one loaded from the store; the fields it shares with the submission
  are copied by name, not listed again).

Validation, which refuses a body with an error naming the field, happens once, at the edge
(``Admission.validate``). The Scheduler only parses a task's media input into its typed
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
from ..protocol import SUBMISSION_FIELDS
from ..redact import public_message
from .enums import Priority, TaskStatus, TaskType
from .requests import REQUEST_MODELS, TaskRequest
from .task import Task, TaskError

# -- the row -----------------------------------------------------------------------------------


#: the submission's fields whose column has another name
_COLUMN_OF = {"metadata": "meta"}
#: a submitted field's column (``row_from_submission``)
SUBMITTED_COLUMNS: tuple[tuple[str, str], ...] = tuple((f, _COLUMN_OF.get(f, f)) for f in SUBMISSION_FIELDS)
#: the columns of a newly accepted task that its submission does not set (pending, no attempt yet)
PENDING_COLUMNS: dict[str, Any] = {
    "status": "pending", "output": None, "provider": None, "attempts": 0, "error_code": None, "error_message": None,
    "error_retryable": None, "progress": 0.0, "progress_message": None, "cost": None, "started_at": None,
    "finished_at": None, "next_attempt_at": None, "cache_hit": False, "finish_seq": None,
    # the Ray node (and GPUs) of the last attempt, set by the Scheduler when one ends
    "node": None,
}


def row_from_submission(item: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
    """The row of a newly accepted task (pending, no attempt yet): each field of its submission
    (``protocol.Submission``; one it leaves out is NULL) in its column, the rest pending."""
    row = {column: item.get(f) for f, column in SUBMITTED_COLUMNS}
    row.update(PENDING_COLUMNS)
    row["created_at"] = now
    return row


#: ``(field, column)`` of each field of ``Task``, in the model's order
_TASK_COLUMNS: tuple[tuple[str, str], ...] = tuple((f, _COLUMN_OF.get(f, f)) for f in Task.model_fields)


def _task_fields(m: Mapping[Any, Any]) -> dict[str, Any]:
    """The ``Task`` fields of a row's values, in the model's order (error and times as stored;
    a column an older row lacks is ``None``)."""
    fields = {f: m.get(column) for f, column in _TASK_COLUMNS}
    fields["error"] = None  # no column: ``task_from_row`` builds it from the error columns
    fields["metadata"] = fields["metadata"] or {}
    fields["cache_hit"] = bool(fields["cache_hit"])
    return fields


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


def submitted_task_json(item: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
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


#: the fields of ``Active`` that its submission gives as they are (``type``, ``priority`` and
#: ``request`` are parsed from it)
_SUBMITTED_STATE: tuple[str, ...] = tuple(
    f for f in SUBMISSION_FIELDS if f in Active.__dataclass_fields__ and f not in ("type", "priority"))
#: those a loaded task's ``Task`` gives (the others come from its row: ``active_from_task``)
_STORED_STATE: tuple[str, ...] = tuple(f for f in _SUBMITTED_STATE if f not in ("options", "webhook_events"))


def active_from_submission(item: Mapping[str, Any]) -> Active:
    """The state of a task just submitted."""
    task_type = TaskType(item["type"])
    state: dict[str, Any] = {f: item.get(f) for f in _SUBMITTED_STATE}
    return Active(type=task_type, priority=Priority(item["priority"]),
                  request=request_from_input(task_type, item["input"]), **state)


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
        type=task.type, priority=task.priority, request=request_from_input(task.type, task.input), options=options,
        webhook_events=webhook_events, status=task.status, attempts=task.attempts, provider=task.provider,
        progress=task.progress, started_at=task.started_at, excluded=set(options.get("failed_providers") or ()),
        remote_job=remote_job, lost=int(options.get("lost_attempts") or 0),
        **{f: getattr(task, f) for f in _STORED_STATE},
    )


__all__ = ["Active", "active_from_submission", "active_from_task", "request_from_input",
           "row_from_submission", "submitted_task_json", "task_from_row"]
