"""What crosses a Ray call between the parts, typed, each shape written once here.

- ``Submission``: a task the door (``admission.Admission.prepare``) hands the Scheduler's
  ``submit`` (``scheduler.submit.Intake``); its row and its in-flight state are derived from it
  (``models.record``), so its field list exists only here (``SUBMISSION_FIELDS``).
- ``SubmitAnswer``: what the Scheduler's ``submit`` answers for each submission.
- ``Assignment``: one attempt the Scheduler hands a host (an I/O worker, a CPU task, a pool actor).
- ``AttemptResult``: how that attempt ended, as the host reports it back; ``Progress``: how far
  one in flight is (both go in the Scheduler's ``report``).

A submission and its answer stay plain dicts (a ``TypedDict`` is one to Ray's serializer and to
every existing caller), so typing them changes nothing that is sent or stored; an assignment and
a result are dataclasses. This module imports nothing of the package: every part may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict


class Submission(TypedDict):
    """A validated task, ready for the Scheduler (``Admission.prepare`` builds it)."""

    #: ``task_<hex>``, or an id derived from its batch, pipeline step or schedule tick
    id: str
    #: the task type's value (``TaskType``)
    type: str
    user_id: str
    #: the priority's value (``Priority``)
    priority: str
    #: the media input (the request's fields without the options)
    input: dict[str, Any]
    #: ``provider``, ``strategy``, ``use_cache`` and what intake adds: ``inputs``, ``tenant``,
    #: ``share``, ``model``, a pipeline's ``pipeline``/``step`` (stored in the row's ``options``)
    options: dict[str, Any]
    webhook_url: str | None
    webhook_secret: str | None
    webhook_events: list[str] | None
    #: the caller's metadata (stored in the row's ``meta`` column)
    metadata: dict[str, Any]
    idempotency_key: str | None
    batch_id: str | None
    max_retries: int
    #: the fingerprint its ``idempotency_key`` is bound to (``admission.request_fingerprint``)
    request_hash: str | None
    #: the provider A/B experiment it joined at intake and its arm (``experiments.assign``)
    experiment_id: NotRequired[str | None]
    experiment_arm: NotRequired[str | None]


#: every field of a submission, in its declared order
SUBMISSION_FIELDS: tuple[str, ...] = tuple(Submission.__annotations__)


class SubmitAnswer(TypedDict):
    """The Scheduler's answer for one submission (``Intake.submit``)."""

    id: str
    #: ``pending`` for a new task, ``completed`` for a cache hit; a replay's when ``task`` is sent
    status: str | None
    #: the submission replays a task stored before (its id, or its idempotency key)
    existing: bool
    cache_hit: bool
    #: a new task's creation time, as its JSON writes it
    created_at: NotRequired[str]
    #: with ``return_tasks``: the task (JSON) of a replay or a cache hit
    task: NotRequired[dict[str, Any] | None]


@dataclass(slots=True)
class Assignment:
    """One attempt handed to an executor."""

    task_id: str
    attempt: int
    task_type: str
    input: dict[str, Any]
    user_id: str = ""
    #: the remote job an earlier attempt recorded (``RemoteJob.to_json``): re-attach to it
    remote_job: dict[str, Any] | None = None
    #: pass the Scheduler's ``rate_gate`` right before the provider runs (it has a rate limit)
    rate_gate: bool = False
    #: identity at submit of each input under a root (``{field: identity}``, ``inputs.py``): the
    #: worker reads that version or fails the task (its cache key names that version)
    inputs: dict[str, Any] | None = None

    def expected_inputs(self) -> dict[str, dict[str, Any]]:
        """``{url: identity at submit}`` of the inputs under roots."""
        return {self.input[f]: ident for f, ident in (self.inputs or {}).items() if isinstance(self.input.get(f), str)}


@dataclass(slots=True)
class AttemptResult:
    """How one attempt of a task ended, as an executor reports it."""

    task_id: str
    attempt: int
    ok: bool
    output: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: the error's ``retryable`` as the executor saw it; the Scheduler rebuilds the error from
    #: ``error_code`` and this flag (a provider's own error class may not be importable there)
    retryable: bool = False
    retry_after: float | None = None
    cancelled: bool = False
    cost: float | None = None
    duration: float = 0.0
    #: the provider that ran it (set by the executor)
    provider: str = ""
    #: the task's recorded remote job is over (failed, cancelled, gone): forget it
    remote_job_ended: bool = False
    #: the Ray node (and GPUs) it ran on (``placement.this_node``; ``None`` when it never ran)
    node: dict[str, Any] | None = None


#: how far an attempt in flight is: ``(task_id, attempt, progress from 0 to 1, message)``
Progress = tuple[str, int, float, str | None]


__all__ = ["SUBMISSION_FIELDS", "Assignment", "AttemptResult", "Progress", "SubmitAnswer", "Submission"]
