"""Task events: the VideoAI API contract's webhook payload, built in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..redact import public_error
from .enums import EventType, TaskStatus

#: the event each status transition emits
STATUS_EVENTS: dict[TaskStatus, EventType] = {
    TaskStatus.PENDING: EventType.CREATED,
    TaskStatus.PROCESSING: EventType.STARTED,
    TaskStatus.COMPLETED: EventType.COMPLETED,
    TaskStatus.FAILED: EventType.FAILED,
    TaskStatus.CANCELLED: EventType.CANCELLED,
}


def event_payload(
    event_type: EventType,
    *,
    task_id: str,
    task_type: str,
    status: str,
    user_id: str,
    timestamp: datetime,
    progress: float = 0.0,
    progress_message: str | None = None,
    output: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    attempt: int = 0,
) -> dict[str, Any]:
    """The VideoAI API contract's webhook body: ``event_type``, ``task_id``, ``timestamp``, ``data``, ``user_id``,
    ``metadata``; ``data`` carries status, type, progress (and ``progress_message`` when the
    worker said what it measures) and the output data or the error."""
    data: dict[str, Any] = {"status": status, "type": task_type, "progress": round(progress, 4),
                            "attempt": attempt}
    if progress_message:
        data["progress_message"] = progress_message
    if output is not None:
        data["output_data"] = output
    if error is not None:
        data["error"] = public_error(error)
    return _envelope(event_type, "task_id", task_id, timestamp, data, user_id, metadata)


def _envelope(event_type: EventType, id_key: str, ident: str, timestamp: datetime, data: dict[str, Any],
              user_id: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The body every event shares (its subject's id under ``id_key``)."""
    return {
        "event_type": event_type.value,
        id_key: ident,
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "data": data,
        "user_id": user_id,
        "metadata": metadata or {},
    }


def pipeline_event_payload(event_type: EventType, *, pipeline_id: str, status: str, user_id: str,
                           timestamp: datetime, steps: dict[str, dict[str, Any]],
                           error: dict[str, Any] | None = None,
                           metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pipeline's webhook body, shaped like a task's: ``event_type``, ``pipeline_id``,
    ``timestamp``, ``data`` (status, each step's task id, status and output, the error),
    ``user_id``, ``metadata``."""
    data: dict[str, Any] = {"status": status, "steps": steps}
    if error is not None:
        data["error"] = public_error(error)
    return _envelope(event_type, "pipeline_id", pipeline_id, timestamp, data, user_id, metadata)
