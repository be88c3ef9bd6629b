"""The SDK's handle on a pipeline: ``client.pipeline(...)`` returns a ``Pipeline`` whose
``result()`` waits for the end, whose ``steps`` are futures (one per step, usable before the
step's task exists) and which shows itself as a live view in Jupyter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..client_namespaces import ClientNamespace
from ..errors import InvalidRequest, PipelineFailed, TaskNotFound
from ..futures import TaskFuture
from ..models import Task
from .model import SKIPPED, WAITING, PipelineRecord, PipelineStatus

if TYPE_CHECKING:
    from ..client import Client


class Pipeline:
    """A started pipeline. ``result()`` waits for it; ``steps["name"]`` is a step's future."""

    def __init__(self, client: Client, pipeline_id: str, record: PipelineRecord | None = None) -> None:
        self.client = client
        self.id = pipeline_id
        record = record or self.record
        self.steps: dict[str, StepFuture] = {s.id: StepFuture(self, s.id, s.task_id) for s in record.steps}

    @property
    def record(self) -> PipelineRecord:
        """The pipeline as stored now, with each step's state."""
        return self.client.service.pipelines.get(self.id, self.client.user_id)

    @property
    def status(self) -> PipelineStatus:
        return self.record.status

    def done(self) -> bool:
        return self.record.done

    def step(self, step_id: str) -> StepFuture:
        return self.steps[step_id]

    def wait(self, timeout: float | None = None) -> PipelineRecord:
        """Wait until the pipeline ended and return its record (whatever its end state);
        ``TimeoutError`` if it is still running after ``timeout`` seconds."""
        from ..widgets import settle

        record = self.client.service.pipelines.wait(self.id, self.client.user_id, timeout)
        if not record.done:
            raise TimeoutError(f"pipeline {self.id} is still running")
        settle(self.id)
        return record

    def result(self, timeout: float | None = None) -> PipelineRecord:
        """The completed pipeline; raises ``PipelineFailed`` if it failed or was cancelled."""
        record = self.wait(timeout)
        if record.status is PipelineStatus.COMPLETED:
            return record
        why = f" at step {record.error['step']}: {record.error['code']}: {record.error['message']}" \
            if record.error else ""
        raise PipelineFailed(f"pipeline {self.id} {record.status.value}{why}", record)

    def cancel(self) -> PipelineRecord:
        """Cancel the pipeline and every step still waiting or running."""
        return self.client.service.pipelines.cancel(self.id, self.client.user_id)

    def __repr__(self) -> str:
        from .widget import pipeline_summary

        return pipeline_summary(self.record)

    def _repr_html_(self) -> str:
        from .widget import pipeline_html

        return pipeline_html(self.record)

    def _ipython_display_(self) -> None:
        from .widget import display_pipeline

        display_pipeline(self)


class StepFuture:
    """One step of a pipeline. Its task id is known at once; ``result()`` waits for the task to
    be submitted (its inputs ready) and to finish, and raises ``PipelineFailed`` if the pipeline
    ended without running it."""

    def __init__(self, pipeline: Pipeline, step_id: str, task_id: str) -> None:
        self.pipeline = pipeline
        self.step_id = step_id
        self.task_id = task_id

    @property
    def status(self) -> str:
        """``waiting`` (its inputs are not ready), ``skipped`` (it never ran), or its task's status."""
        return self.pipeline.record.step(self.step_id).status

    def future(self) -> TaskFuture | None:
        """The step's ``TaskFuture`` once its task exists, else ``None``."""
        try:
            self.pipeline.client.get(self.task_id)
        except TaskNotFound:
            return None
        return TaskFuture(self.pipeline.client, self.task_id)

    def wait(self, timeout: float | None = None) -> Task:
        """Wait until the step's task ended and return it (whatever its end state)."""
        wait = self.pipeline.client.service.version_wait(timeout)
        while True:
            fut = self.future()
            if fut is not None:
                return fut.wait(wait.remaining())
            if self.status == SKIPPED:
                record = self.pipeline.record
                raise PipelineFailed(f"step {self.step_id} never ran: pipeline {record.id} {record.status.value}",
                                     record)
            if not wait.sleep():
                raise TimeoutError(f"step {self.step_id} of pipeline {self.pipeline.id} is still {WAITING}")

    def result(self, timeout: float | None = None) -> Task:
        """The step's completed task; raises ``TaskFailed`` / ``TaskCancelled`` like a task's
        future, or ``PipelineFailed`` if the step never ran."""
        from ..futures import raise_if_failed

        return raise_if_failed(self.wait(timeout))

    def __repr__(self) -> str:
        return f"<StepFuture {self.step_id} of {self.pipeline.id}: {self.status}>"


class Pipelines(ClientNamespace):
    """``client.pipelines``: start pipelines and re-attach to them; ``client.pipelines()`` lists them."""

    def __call__(self, limit: int = 50) -> pd.DataFrame:
        return self.list(limit)

    def list(self, limit: int = 50) -> pd.DataFrame:
        """Your pipelines, newest first: id, status, created, finished, each step's status."""
        records = self._client.service.pipelines.list(self._user, limit)
        return pd.DataFrame([{"id": r.id, "status": r.status.value, "created_at": r.created_at,
                              "finished_at": r.finished_at, "failed_step": (r.error or {}).get("step"),
                              **{f"step:{s.id}": s.status for s in r.steps}} for r in records])

    def create(self, steps: Sequence[Mapping[str, Any]] | None = None, *, spec: Mapping[str, Any] | None = None,
               idempotency_key: str | None = None, **options: Any) -> Pipeline:
        """Start a pipeline: ``steps`` (see ``videoai_ray.pipelines.step`` and ``ref``), or a whole
        ``spec`` as ``POST /pipelines`` takes it; ``options``: ``priority``, ``webhook_url``,
        ``webhook_secret``, ``metadata``. An unknown step reference or a cycle raises
        ``InvalidRequest`` naming the step, and nothing is stored."""
        if (steps is None) == (spec is None):
            raise InvalidRequest("steps: give exactly one of steps or spec", field="steps")
        body = dict(spec) if spec is not None else {"steps": list(steps or []), **options}
        record = self._client.service.pipelines.create(body, user_id=self._user, idempotency_key=idempotency_key)
        return Pipeline(self._client, record.id, record)

    def get(self, pipeline_id: str) -> Pipeline:
        """Re-attach to one of your pipelines; ``PipelineNotFound`` for an unknown id or another user's."""
        return Pipeline(self._client, pipeline_id)


__all__ = ["Pipeline", "Pipelines", "StepFuture"]
