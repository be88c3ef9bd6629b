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
    PipelineFailed,
    PipelineNotFound,
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
from .pipelines import PipelineRecord, PipelineStatus, ref, step
from .pipelines.handle import Pipeline, StepFuture
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
    # pipelines
    "Pipeline",
    "PipelineRecord",
    "PipelineStatus",
    "StepFuture",
    "ref",
    "step",
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
    "PipelineFailed",
    "PipelineNotFound",
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
