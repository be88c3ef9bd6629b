"""videoai-ray: media tasks (images, videos, transcriptions, subtitles) for AI providers, on Ray.

The names below are imported on first use (module ``__getattr__``): ``import videoai_ray`` (and
so ``from videoai_ray import __version__`` in every Serve replica) does not import the SDK,
pandas or Ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        QuotaExceeded,
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
    "QuotaExceeded",
    "RateLimited",
    "RetryableError",
    "ScheduleNotFound",
    "TaskCancelled",
    "TaskFailed",
    "TaskNotFound",
    "VideoAIError",
]


#: the module each exported name lives in
_HOMES = {
    **dict.fromkeys(["Client", "Estimate", "Statistics", "connect"], ".client"),
    **dict.fromkeys(["Batch", "TaskFuture"], ".futures"),
    "MapView": ".mapview",
    **dict.fromkeys(["EventType", "Priority", "Strategy", "Task", "TaskStatus", "TaskType"], ".models"),
    **dict.fromkeys(["PipelineRecord", "PipelineStatus", "ref", "step"], ".pipelines"),
    **dict.fromkeys(["Pipeline", "StepFuture"], ".pipelines.handle"),
    **dict.fromkeys(["Provider", "ProviderContext"], ".providers"),
    "Settings": ".settings",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module(_HOMES.get(name, ".errors"), __name__), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
