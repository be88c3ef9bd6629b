"""videoai-ray: media tasks (images, videos, transcriptions, subtitles) for AI providers, on Ray."""

from .client import Client, Estimate, Statistics, connect
from .errors import (
    AuthenticationFailed,
    BatchNotFound,
    BudgetExceeded,
    ContentRejected,
    ExperimentNotFound,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    InvalidOutput,
    InvalidRequest,
    NoProviderAvailable,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RetryableError,
    ScheduleNotFound,
    TaskCancelled,
    TaskFailed,
    TaskNotFound,
    VideoAIError,
)
from .futures import Batch, TaskFuture
from .mapview import MapView
from .models import EventType, Priority, Strategy, Task, TaskStatus, TaskType
from .providers import Provider, ProviderContext
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    # connecting
    "Client",
    "Estimate",
    "Settings",
    "connect",
    # tasks
    "Batch",
    "EventType",
    "MapView",
    "Priority",
    "Statistics",
    "Strategy",
    "Task",
    "TaskFuture",
    "TaskStatus",
    "TaskType",
    # providers
    "Provider",
    "ProviderContext",
    # errors
    "AuthenticationFailed",
    "BatchNotFound",
    "BudgetExceeded",
    "ContentRejected",
    "ExperimentNotFound",
    "Forbidden",
    "IdempotencyConflict",
    "InvalidInput",
    "InvalidOutput",
    "InvalidRequest",
    "NoProviderAvailable",
    "PermanentError",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "RetryableError",
    "ScheduleNotFound",
    "TaskCancelled",
    "TaskFailed",
    "TaskNotFound",
    "VideoAIError",
]
