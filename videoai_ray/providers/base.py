"""The provider plug-in contract.

A provider is a class with a ``name``, the ``task_types`` it serves, a ``quality`` score (0..1),
a concurrency cap and ``async run(request, ctx) -> dict``. ``ctx`` reports progress, says whether
the task was cancelled and stores artifacts. Errors raised from ``run`` should be the package's
retryable / rate-limited / permanent classes (``videoai_ray.errors``); anything else counts as a
transient failure.
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ProviderRegistrationError
from ..models import TaskRequest, TaskType
from ..settings import Settings
from .limits import RateLimits
from .remote_job import RemoteJob


class ProviderContext(abc.ABC):
    """What a running attempt can see and do; built by the executor for each attempt."""

    task_id: str
    attempt: int
    settings: Settings
    log: logging.LoggerAdapter[logging.Logger]
    #: the owner id of the task (``acme/ana`` for a tenant's user): whose provider key an attempt uses
    user_id: str = ""
    #: the actual cost of this attempt, when the provider knows it (else the estimate is used)
    cost: float | None = None
    #: the remote job an earlier attempt of this task recorded on this provider: re-attach to it
    #: instead of creating another (``None``: create one, then ``record_remote_job`` it)
    remote_job: RemoteJob | None = None
    #: set by ``remote_job_ended``: the next attempt must not re-attach to the recorded job
    remote_job_over: bool = False

    @property
    @abc.abstractmethod
    def tmpdir(self) -> Path:
        """Scratch folder for this attempt, removed afterwards."""

    @abc.abstractmethod
    def progress(self, value: float, message: str | None = None) -> None:
        """Report progress in 0..1 (throttled by the executor; cheap to call often)."""

    @property
    @abc.abstractmethod
    def cancelled(self) -> bool:
        """True once the task was cancelled: stop work and return or raise soon."""

    def raise_if_cancelled(self) -> None:
        import asyncio

        if self.cancelled:
            raise asyncio.CancelledError(f"task {self.task_id} cancelled")

    @abc.abstractmethod
    def store_artifact(
        self, name: str, data: bytes | Path, content_type: str | None = None
    ) -> dict[str, Any]:
        """Store an output file; returns ``{"url", "name", "size_bytes", "content_type"}``."""

    async def record_remote_job(self, job_id: str, data: dict[str, Any] | None = None) -> RemoteJob:
        """Record the job just created at the remote service, durably, before waiting for it: a
        later attempt of this task (after a crash of the worker, the Scheduler or the app)
        re-attaches to it instead of creating another. Raises ``asyncio.CancelledError`` when
        the task no longer wants the job (cancelled, or a newer attempt runs): cancel it then.
        This base version keeps it in memory only (contexts made by hand, in tests)."""
        self.remote_job = RemoteJob(getattr(self, "provider", ""), str(job_id), dict(data or {}), self.attempt)
        self.remote_job_over = False
        return self.remote_job

    def remote_job_ended(self) -> None:
        """The recorded job failed, was cancelled or is gone: a new attempt must create another."""
        self.remote_job = None
        self.remote_job_over = True

    @abc.abstractmethod
    def open_input(self, url: str, max_bytes: int | None = None) -> Path:
        """Fetch an input (an ``http(s)`` URL through the network guard, or an SDK upload of the
        task's own user) to a local file and return its path."""


class Provider:
    """Base class of every provider; subclass it and set the class attributes."""

    #: unique registry name, e.g. ``"local-procedural-image"``
    name: ClassVar[str]
    #: task types served
    task_types: ClassVar[frozenset[TaskType]]
    #: relative output quality in 0..1 (the ``quality`` strategy picks the highest)
    quality: ClassVar[float] = 0.5
    #: attempts in flight at once on this provider (the scheduler enforces it)
    max_concurrency: ClassVar[int] = 4
    #: CPU-heavy providers run as Ray tasks with ``num_cpus``; the others in async worker actors
    cpu_bound: ClassVar[bool] = False
    num_cpus: ClassVar[float] = 1.0
    #: GPUs one unit (CPU task, worker actor or pool actor) holds; fractions below 1 share a GPU
    num_gpus: ClassVar[float] = 0.0
    #: only nodes of this accelerator type (Ray's ``accelerator_type``, e.g. ``"H100"``, ``"A10G"``)
    accelerator_type: ClassVar[str | None] = None
    #: bytes of memory one unit reserves (Ray's ``memory`` resource)
    memory: ClassVar[int | None] = None
    #: custom Ray resources one unit holds, e.g. ``{"video_encoder": 1}``
    resources: ClassVar[dict[str, float]] = {}
    #: per-attempt timeout in seconds (``None``: the ``task_timeout`` setting)
    timeout: ClassVar[float | None] = None
    #: can translate subtitles between languages
    translates: ClassVar[bool] = False
    #: the request's ``optional_inputs`` this provider honours (e.g. a video's ``audio_url``);
    #: a request setting any other one is not routed here
    honours: ClassVar[frozenset[str]] = frozenset()
    #: one line for listings: what this provider really does
    description: ClassVar[str] = ""
    #: the account's rate limits the Scheduler starts attempts under (``None``: none declared;
    #: ``VIDEOAI_PROVIDER_RATE_LIMITS`` overrides them per provider name)
    rate_limits: ClassVar[RateLimits | None] = None

    def unavailable_reason(self) -> str | None:
        """Why this provider cannot be used now (e.g. a missing key), or ``None`` if it can."""
        return None

    def supports(self, request: TaskRequest) -> bool:
        """Whether this provider can serve this particular request (beyond its task type).

        By default a request that needs translation goes only to providers that declare
        ``translates = True``, and one that sets an optional input only to providers that
        honour it. Subclasses that narrow this call ``super().supports(request)``.
        """
        if self.unhonoured(request):
            return False
        return self.translates or not getattr(request, "needs_translation", False)

    def unhonoured(self, request: TaskRequest) -> list[str]:
        """The optional inputs ``request`` sets that this provider does not honour."""
        return [f for f in type(request).optional_inputs if getattr(request, f, None) and f not in self.honours]

    def explain_unsupported(self, request: TaskRequest) -> str | None:
        """Why ``supports(request)`` is false, in words for the task's error (``None``: generic).
        By default it names the optional inputs this provider does not honour."""
        fields = self.unhonoured(request)
        if fields:
            return f"{', '.join(fields)}: not supported by {self.name} (use a provider that honours it)"
        return None

    def languages(self) -> list[str] | None:
        """The language codes this provider knows for a request's ``language`` (``None``: it does
        not say); ``client.providers()`` and ``GET /providers`` list them."""
        return None

    def concurrency(self) -> int:
        """Attempts the Scheduler may have in flight on this provider (before cluster limits)."""
        return int(self.max_concurrency)

    def estimate_cost(self, request: TaskRequest) -> float:
        """Expected cost in USD of one attempt, before running it."""
        return 0.0

    def rate_usage(self, request: TaskRequest) -> dict[str, float]:
        """What one attempt for ``request`` uses of ``rate_limits``: ``requests`` (1 unless said
        otherwise), ``tokens``, ``media_seconds``."""
        return {}

    async def run(self, request: Any, ctx: ProviderContext) -> dict[str, Any]:
        """Do the work; return the task's output data."""
        raise NotImplementedError

    async def cancel_remote_job(self, job: RemoteJob) -> None:
        """Cancel a job this provider created for a task that was cancelled while no attempt of
        it ran (so no running attempt could cancel it). Default: nothing to cancel."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')!r}>"


def validate_provider(provider: Provider) -> None:
    """Reject a provider that does not satisfy the contract, with a message saying why."""
    cls = type(provider)
    if not isinstance(provider, Provider):
        raise ProviderRegistrationError(f"{cls.__name__} is not a videoai_ray.providers.Provider")
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise ProviderRegistrationError(f"{cls.__name__}.name must be a non-empty string")
    types = getattr(provider, "task_types", None)
    if not types or not all(isinstance(t, TaskType) for t in types):
        raise ProviderRegistrationError(f"{name}: task_types must be a non-empty set of TaskType")
    if not 0.0 <= float(provider.quality) <= 1.0:
        raise ProviderRegistrationError(f"{name}: quality must be within 0..1")
    if int(provider.max_concurrency) < 1:
        raise ProviderRegistrationError(f"{name}: max_concurrency must be at least 1")
    from .model import ModelProvider, validate_model_provider
    from .resources import validate_resources

    problem = validate_resources(provider)
    if problem is None and isinstance(provider, ModelProvider):
        problem = validate_model_provider(provider)
    if problem:
        raise ProviderRegistrationError(f"{name}: {problem}")
    if cls.run is Provider.run:
        raise ProviderRegistrationError(f"{name}: run(request, ctx) is not implemented")
    import inspect

    if not inspect.iscoroutinefunction(cls.run):
        raise ProviderRegistrationError(f"{name}: run must be 'async def'")
