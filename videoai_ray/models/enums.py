"""Task types, priorities and statuses: the vocabulary every layer shares."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class TaskType(str, Enum):
    """What kind of media work a task does."""

    #: ``POST /images/generate``
    IMAGE_GENERATION = "image_generation"
    #: ``POST /videos/generate``
    VIDEO_GENERATION = "video_generation"
    #: ``POST /audio/transcribe``
    AUDIO_TRANSCRIPTION = "audio_transcription"
    #: ``POST /subtitles/generate``
    SUBTITLE_GENERATION = "subtitle_generation"


class Priority(str, Enum):
    """Dispatch priority; ``rank`` orders them ``low < medium < high < urgent``."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class TaskStatus(str, Enum):
    """Where a task is in its life; ``TERMINAL_STATUSES`` is the one list of end states."""

    #: accepted and stored, waiting for a provider slot
    PENDING = "pending"
    #: an attempt is running on a provider
    PROCESSING = "processing"
    #: an attempt failed with a retryable error; the next one waits for its backoff
    RETRYING = "retrying"
    #: finished with output
    COMPLETED = "completed"
    #: finished without output (permanent error, or retries exhausted)
    FAILED = "failed"
    #: stopped on request
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
)
ACTIVE_STATUSES: frozenset[TaskStatus] = frozenset(set(TaskStatus) - TERMINAL_STATUSES)


def terminal_count(counts: Mapping[str, int]) -> int:
    """Tasks in a terminal state, from a batch's counts per status (which may also hold
    ``not_submitted``: items a driver meant to send but did not)."""
    return sum(n for s, n in counts.items() if s in _TERMINAL_VALUES)


_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL_STATUSES)


class EventType(str, Enum):
    """The VideoAI API contract's webhook events; one per status transition plus progress."""

    CREATED = "task.created"
    STARTED = "task.started"
    PROGRESS = "task.progress"
    COMPLETED = "task.completed"
    FAILED = "task.failed"
    CANCELLED = "task.cancelled"
    #: every step of a pipeline completed
    PIPELINE_COMPLETED = "pipeline.completed"
    #: a step of a pipeline failed (the steps that depend on it never run)
    PIPELINE_FAILED = "pipeline.failed"
    #: a pipeline was cancelled (with its remaining steps)
    PIPELINE_CANCELLED = "pipeline.cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_EVENTS


_TERMINAL_EVENTS = frozenset({EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED,
                              EventType.PIPELINE_COMPLETED, EventType.PIPELINE_FAILED,
                              EventType.PIPELINE_CANCELLED})


class Strategy(str, Enum):
    """The VideoAI API contract's provider selection strategies."""

    QUALITY = "quality"
    SPEED = "speed"
    COST = "cost"
    RELIABILITY = "reliability"
    LOAD_BALANCING = "load_balancing"
