"""Pydantic models shared by the SDK, the HTTP API, the scheduler and the providers."""

from .enums import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    EventType,
    Priority,
    Strategy,
    TaskStatus,
    TaskType,
)
from .record import submitted_task_json
from .requests import (
    MAX_HTTP_BATCH,
    REQUEST_MODELS,
    AudioTranscriptionRequest,
    BatchItem,
    Cue,
    ImageGenerationRequest,
    SubtitleGenerationRequest,
    TaskRequest,
    VideoGenerationRequest,
)
from .task import Task, TaskError, json_time

__all__ = [
    "ACTIVE_STATUSES",
    "MAX_HTTP_BATCH",
    "REQUEST_MODELS",
    "TERMINAL_STATUSES",
    "AudioTranscriptionRequest",
    "BatchItem",
    "Cue",
    "EventType",
    "ImageGenerationRequest",
    "Priority",
    "Strategy",
    "SubtitleGenerationRequest",
    "Task",
    "TaskError",
    "TaskRequest",
    "TaskStatus",
    "TaskType",
    "VideoGenerationRequest",
    "json_time",
    "submitted_task_json",
]
