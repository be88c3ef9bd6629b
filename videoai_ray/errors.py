"""The package's exceptions: one root, with provider errors split into retryable and permanent.

The retry policy reads only that split (``retryable``), so a provider author decides how an
error is treated by choosing its class, never by a flag buried in a message.
"""

from __future__ import annotations

from typing import Any


class VideoAIError(Exception):
    """Root of every error raised by videoai-ray."""

    #: Stable, machine-readable code stored on failed tasks and returned by the API.
    code: str = "error"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details


# -- Input and lookup -------------------------------------------------------------------------


class InvalidRequest(VideoAIError):
    """A request failed validation; ``field`` names the offending input."""

    code = "invalid_request"

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class IdempotencyConflict(InvalidRequest):
    """An idempotency key came back with a different request than the one it was first used with."""

    code = "idempotency_conflict"


class TaskNotFound(VideoAIError):
    """No task with this id (for this user)."""

    code = "task_not_found"


class BatchNotFound(TaskNotFound):
    """No batch with this id (for this user)."""

    code = "batch_not_found"


class ExperimentNotFound(TaskNotFound):
    """No experiment with this id (for this user)."""

    code = "experiment_not_found"


class Forbidden(VideoAIError):
    """The caller may not do this (an admin token is needed); ``field`` names the input."""

    code = "forbidden"

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class ScheduleNotFound(TaskNotFound):
    """No schedule with this id (for this user)."""

    code = "schedule_not_found"


class PipelineNotFound(TaskNotFound):
    """No pipeline with this id (for this user)."""

    code = "pipeline_not_found"


class QuotaExceeded(VideoAIError):
    """A per-user cap of the deployment (a setting) is reached; ``limit`` names the setting
    (``VIDEOAI_USER_MAX_SCHEDULES``), ``maximum`` its value. Nothing was stored."""

    code = "quota_exceeded"

    # defaults: an exception is rebuilt from its message alone when it crosses processes
    def __init__(self, message: str, limit: str = "", maximum: int = 0, **details: Any) -> None:
        super().__init__(message, errors=[{"limit": limit, "max": maximum}], **details)
        self.limit = limit
        self.maximum = maximum


class InvalidReference(InvalidRequest):
    """A pipeline step's reference cannot give it a valid input: the value it names does not
    exist, is not allowed in the field, or names a file the pipeline did not make. The pipeline
    fails with this code, naming the step and the reference (never a server path)."""

    code = "invalid_reference"

    def __init__(self, step: str, reference: str, field: str, reason: str) -> None:
        super().__init__(f"step {step!r}: {field} = {{$ref: {reference!r}}}: {reason}", field=field,
                         step=step, reference=reference)
        self.step, self.reference, self.reason = step, reference, reason

    def __reduce__(self) -> tuple[Any, ...]:  # rebuilt whole when it crosses processes
        return type(self), (self.step, self.reference, self.field, self.reason)


class InvalidTransition(VideoAIError):
    """The task is not in a state that allows this operation."""

    code = "invalid_transition"


class TenantNotFound(TaskNotFound):
    """No tenant with this id; ``field`` names where the id came from (``id``: the path)."""

    code = "tenant_not_found"

    def __init__(self, message: str = "", field: str | None = "id", **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class TenantExists(InvalidTransition):
    """A tenant with this id exists already."""

    code = "tenant_exists"


class TenantNotSuspended(InvalidTransition):
    """A tenant must be suspended before it is deleted (or the delete forced)."""

    code = "tenant_not_suspended"

    def __init__(self, message: str = "", field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class TenantBusy(InvalidTransition):
    """A tenant's work in flight did not end in time for its delete; nothing was deleted."""

    code = "tenant_busy"

    def __init__(self, message: str = "", field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class NoSecretsKey(InvalidTransition):
    """A tenant's provider key cannot be stored: the deployment has no ``VIDEOAI_SECRETS_KEY``."""

    code = "no_secrets_key"


# -- The store --------------------------------------------------------------------------------


class StoreUnavailable(VideoAIError):
    """The task store cannot be reached now (down, refusing or stalled): nothing was accepted;
    send the request again after ``retry_after`` seconds (HTTP 503 with ``Retry-After``)."""

    code = "store_unavailable"
    #: seconds a caller should wait before trying again
    retry_after: float = 5.0


# -- Provider errors: the retry policy reads ``retryable`` only ---------------------------------


class ProviderError(VideoAIError):
    """An attempt to run a task on a provider failed."""

    code = "provider_error"
    retryable: bool = False


class RetryableError(ProviderError):
    """A transient failure: the same request may succeed later."""

    code = "transient_error"
    retryable = True


class ProviderTimeout(RetryableError):
    """The provider did not answer in time."""

    code = "timeout"


class RateLimited(RetryableError):
    """The provider asked us to slow down; ``retry_after`` (seconds) is honoured when given."""

    code = "rate_limited"

    def __init__(self, message: str = "", retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class WorkerLost(RetryableError):
    """The process running the attempt died; the task is run again."""

    code = "worker_lost"


class DiskFull(RetryableError, StoreUnavailable):
    """The local disk is full (ENOSPC): the store could not write, or an attempt could not write
    its output. Retried like any transient fault, and never held against the provider (its
    circuit breaker counts provider faults only); a task still out of space after its retries
    fails with this code."""

    code = "disk_full"


class PermanentError(ProviderError):
    """A failure that retrying cannot fix."""

    code = "permanent_error"


class InvalidInput(PermanentError):
    """The provider rejected the input."""

    code = "invalid_input"


class InputNotFound(InvalidInput):
    """The input a task names does not exist (an object under a granted input root); never retried."""

    code = "input_not_found"


class AuthenticationFailed(PermanentError):
    """The provider rejected our credentials."""

    code = "authentication_failed"


class ContentRejected(PermanentError):
    """The provider's content filter rejected the request or the output."""

    code = "content_rejected"


class InvalidOutput(PermanentError):
    """The provider returned output that cannot be stored (not JSON, or over the size limit)."""

    code = "invalid_output"


class WriteFailed(PermanentError):
    """The task's state change could not be written to the store (the write itself failed)."""

    code = "write_failed"


class BudgetExceeded(PermanentError):
    """Starting the attempt could spend more than a budget allows (the batch's or the user's)."""

    code = "budget_exceeded"


class NoProviderAvailable(PermanentError):
    """No registered, available provider can serve this request."""

    code = "no_provider"


# -- Futures ----------------------------------------------------------------------------------


class TaskFailed(VideoAIError):
    """Raised by ``TaskFuture.result()`` when the task ended ``failed``."""

    code = "task_failed"

    def __init__(self, task: Any) -> None:
        err = getattr(task, "error", None)
        text = f"{err.code}: {err.message}" if err else "failed"
        super().__init__(f"task {task.id} failed: {text}")
        self.task = task


class TaskCancelled(VideoAIError):
    """Raised by ``TaskFuture.result()`` when the task ended ``cancelled``."""

    code = "task_cancelled"

    def __init__(self, task: Any) -> None:
        super().__init__(f"task {task.id} was cancelled")
        self.task = task


class PipelineFailed(VideoAIError):
    """Raised by ``Pipeline.result()`` when the pipeline ended ``failed`` or ``cancelled``, and by
    a step's ``result()`` when that step never ran; ``pipeline`` is its record."""

    code = "pipeline_failed"

    def __init__(self, message: str, pipeline: Any = None) -> None:
        super().__init__(message)
        self.pipeline = pipeline


class ProviderRegistrationError(VideoAIError):
    """A provider class or instance does not satisfy the plug-in contract."""

    code = "invalid_provider"


# -- Deployment (Ray cluster, store) -------------------------------------------------------------


class DeploymentError(VideoAIError):
    """This process cannot join the deployment as configured; the message names the fix."""

    code = "deployment_error"


class StoreMismatch(DeploymentError):
    """This process names another store than the one the running Scheduler writes."""

    code = "store_mismatch"


class StoreNotReady(DeploymentError):
    """The store this process opened has no (or an older) schema: an empty or other database."""

    code = "store_not_ready"


class RayAuthError(DeploymentError):
    """Ray's token authentication refused this process, or cannot work as configured."""

    code = "ray_auth"


def error_from_code(code: str, message: str) -> ProviderError:
    """Rebuild a provider error from its stored code (used when errors cross processes)."""
    for cls in _all_subclasses(ProviderError):
        if cls.code == code:
            return cls(message)
    return ProviderError(message)


def _all_subclasses(cls: type[ProviderError]) -> list[type[ProviderError]]:
    out: list[type[ProviderError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out
