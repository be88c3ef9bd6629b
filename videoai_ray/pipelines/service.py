"""PipelineService: what every entry point (SDK, HTTP) calls for pipelines.

``MediaService.pipelines`` owns one. It validates a spec in full before anything is stored
(``validation``: unknown steps, cycles and bad literal inputs are ``InvalidRequest`` naming the
step's field), hands it to the Scheduler's runner, and reads pipelines back with their steps'
states. Code inside the Scheduler never comes here: it uses ``validation`` and
``rows.pipeline_row`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ray

from ..admission import door_context
from ..artifacts import ArtifactStore, public_output
from ..errors import PipelineNotFound
from . import rows
from .model import PipelineRecord, build_record, step_task_id
from .rows import pipeline_row
from .spec import PipelineSpec
from .validation import validate_spec

if TYPE_CHECKING:
    from ..service import MediaService


class PipelineService:
    """Create, read, wait for and cancel pipelines of a user."""

    def __init__(self, media: MediaService) -> None:
        self.media = media

    @property
    def engine(self) -> Any:
        return self.media.store.engine

    @property
    def instance(self) -> str:
        return self.media.store.instance

    # -- validation ----------------------------------------------------------------------------

    def validate(self, spec: Mapping[str, Any] | PipelineSpec, *, http: bool = False,
                 user_id: str | None = None) -> PipelineSpec:
        """The spec checked in full, ``InvalidRequest`` naming the field otherwise (see
        ``validation.validate_spec``)."""
        return validate_spec(self.media.admission, spec, http=http, user_id=user_id)

    # -- operations ----------------------------------------------------------------------------

    def create(self, spec: Mapping[str, Any] | PipelineSpec, *, user_id: str, idempotency_key: str | None = None,
               http: bool = False, tenant: str | None = None,
               share: Mapping[str, Any] | None = None) -> PipelineRecord:
        """Validate and start a pipeline for ``user_id``; with ``idempotency_key``, the same spec
        sent again returns the first pipeline (another spec with that key: ``IdempotencyConflict``).
        ``http``, ``tenant`` and ``share`` (the caller's door and token claims) are stored with it
        and apply to each of its steps."""
        return self.start(spec, user_id=user_id, idempotency_key=idempotency_key, http=http, tenant=tenant,
                          share=share)[0]

    def start(self, spec: Mapping[str, Any] | PipelineSpec, *, user_id: str, idempotency_key: str | None = None,
              http: bool = False, tenant: str | None = None,
              share: Mapping[str, Any] | None = None) -> tuple[PipelineRecord, bool]:
        """``create``, also saying whether the pipeline existed already (an idempotent replay)."""
        from ..scheduler_calls import call_scheduler

        row = pipeline_row(self.validate(spec, http=http, user_id=user_id), user_id=user_id,
                           idempotency_key=idempotency_key, context=door_context(http=http, tenant=tenant, share=share))
        answer = call_scheduler(lambda: ray.get(self.media.scheduler.create_pipeline.remote(row)))
        ray.get(self.media.scheduler.flush_now.remote())
        return self.get(answer["id"], user_id, public=http), bool(answer["existing"])

    def get(self, pipeline_id: str, user_id: str | None = None, *, public: bool = False,
            user_prefix: str | None = None) -> PipelineRecord:
        """A pipeline of ``user_id`` (or of an owner under ``user_prefix``) with its steps;
        ``PipelineNotFound`` for an unknown id or another user's. ``public``: outputs name download
        paths, never storage URLs (HTTP)."""
        row = rows.get_pipeline(self.engine, pipeline_id, user_id, instance=self.instance)
        if row is None or (user_prefix is not None and not row["user_id"].startswith(user_prefix)):
            raise PipelineNotFound(f"no pipeline {pipeline_id}")
        return self._record(row, public)

    def _record(self, row: dict[str, Any], public: bool) -> PipelineRecord:
        spec = PipelineSpec.model_validate(row["spec"])
        tasks = {t.id: t for t in self.media.store.get_many([step_task_id(row["id"], s.id) for s in spec.steps])}
        show = None
        if public:
            artifacts = ArtifactStore.of(self.media.settings)

            def show(out: dict[str, Any] | None, tid: str) -> dict[str, Any] | None:
                return None if out is None else dict(public_output(out, tid, artifacts))
        return build_record(row, tasks, show)

    def list(self, user_id: str | None, limit: int = 50, *, public: bool = False,
             user_prefix: str | None = None) -> list[PipelineRecord]:
        """The user's pipelines (or every owner's under ``user_prefix``), newest first."""
        found = rows.list_pipelines(self.engine, user_id, limit, instance=self.instance, user_prefix=user_prefix)
        return [self._record(r, public) for r in found]

    def cancel(self, pipeline_id: str, user_id: str | None = None, *, public: bool = False) -> PipelineRecord:
        """Cancel a running pipeline and its remaining steps (``InvalidTransition`` if it ended)."""
        from ..scheduler_calls import call_scheduler

        call_scheduler(lambda: ray.get(self.media.scheduler.cancel_pipeline.remote(pipeline_id, user_id)))
        ray.get(self.media.scheduler.flush_now.remote())
        return self.get(pipeline_id, user_id, public=public)

    def wait(self, pipeline_id: str, user_id: str | None, timeout: float | None) -> PipelineRecord:
        """The pipeline once it ended, or as it is when ``timeout`` passes."""
        return self.media.wait_done(lambda: self.get(pipeline_id, user_id), timeout)

    def counts(self, user_id: str | None = None, *, user_prefix: str | None = None) -> dict[str, Any]:
        """Pipelines per status and their success rate (the statistics' ``pipelines``)."""
        return rows.pipeline_counts(self.engine, user_id, instance=self.instance, user_prefix=user_prefix)


__all__ = ["PipelineService"]
