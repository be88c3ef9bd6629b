"""PipelineService: what every entry point (SDK, HTTP) calls for pipelines; ``pipeline_row`` for
code inside the Scheduler (scheduled tasks).

``MediaService.pipelines`` owns one. It validates a spec in full before anything is stored
(unknown steps, cycles and bad literal inputs are ``InvalidRequest`` naming the step's field),
hands it to the Scheduler's runner, and reads pipelines back with their steps' states.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any

import ray
from pydantic import ValidationError

from ..artifacts import ArtifactStore, public_output
from ..errors import InvalidRequest, PipelineNotFound
from ..models import REQUEST_MODELS, TaskType
from ..models.requests import HTTP_CONTEXT
from ..service import fingerprint
from ..store import utcnow
from . import rows
from .model import PipelineRecord, build_record, new_pipeline_id, step_task_id
from .spec import PipelineSpec, check_structure

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
        """The spec as a ``PipelineSpec`` whose steps refer only to known steps, without cycles,
        and whose literal inputs are valid; ``InvalidRequest`` naming the field otherwise. With
        ``user_id`` (and not ``http``), a literal input under an input root passes when it is under
        a root granted to that user, as a task submitted through the SDK (checked again when the
        step starts, and in the worker); over HTTP a step's inputs stay http(s) URLs."""
        from ..service import invalid_field

        try:
            parsed = spec if isinstance(spec, PipelineSpec) else PipelineSpec.model_validate(dict(spec))
        except ValidationError as e:
            raise invalid_field(e) from None
        check_structure(parsed, lambda t, body, prefix, refs: self.check_input(t, body, prefix, refs, http=http,
                                                                                  user_id=user_id))
        if parsed.webhook_url:  # the one webhook URL policy, as for a task's
            from ..webhooks import InvalidWebhookURL, validate_webhook_url

            try:
                validate_webhook_url(parsed.webhook_url, self.media.settings, resolve_dns=self.media.resolve_dns)
            except InvalidWebhookURL as e:
                raise InvalidRequest(f"webhook_url: {str(e).removeprefix('webhook_url: ')}",
                                     field="webhook_url") from None
        return parsed

    def check_input(self, task_type: TaskType, body: dict[str, Any], prefix: str, skip: Set[str], *,
                    http: bool, user_id: str | None = None) -> None:
        """Validate a step's body under the rules of its door (``http``), leaving out the fields
        in ``skip``: at creation, those holding references (checked once resolved); once
        resolved, those holding a file an earlier step made (handed over as an upload). With
        ``user_id`` through the SDK door, literal inputs under the roots granted to that user pass
        (the same check as ``MediaService.prepare``: canonical form, grant, the object exists)."""
        from ..service import field_error

        model = REQUEST_MODELS[task_type]
        unknown = sorted(skip - set(model.model_fields))
        if unknown:
            raise InvalidRequest(f"{prefix}{unknown[0]}: no such field", field=f"{prefix}{unknown[0]}")
        literal = {k: v for k, v in body.items() if k not in skip}
        # roots only through the SDK door: an HTTP pipeline's steps stay http(s) URLs
        sdk_user = user_id if not http else None
        context = self.media.input_context(False, sdk_user) if sdk_user is not None else \
            HTTP_CONTEXT if http else None
        try:
            request = model.model_validate(literal, context=context)
        except ValidationError as e:
            kept = [err for err in e.errors() if not _about(err, skip)]
            if kept:
                raise field_error(kept, prefix) from None
            request = model.model_construct(**literal, **dict.fromkeys(skip))
        self.media.policy_checks(request, prefix)
        if sdk_user is not None:  # refused here, naming the field and the roots granted, not when the step starts
            self.media.root_inputs(request, {}, prefix, user_id=sdk_user, http=False)

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
        from ..service import call_scheduler

        row = pipeline_row(self.validate(spec, http=http, user_id=user_id), user_id=user_id,
                           idempotency_key=idempotency_key, context=door_context(http=http, tenant=tenant, share=share))
        answer = call_scheduler(lambda: ray.get(self.media.scheduler.create_pipeline.remote(row)))
        ray.get(self.media.scheduler.flush_now.remote())
        return self.get(answer["id"], user_id, public=http), bool(answer["existing"])

    def get(self, pipeline_id: str, user_id: str | None = None, *, public: bool = False) -> PipelineRecord:
        """A pipeline of ``user_id`` with its steps; ``PipelineNotFound`` for an unknown id or
        another user's. ``public``: outputs name download paths, never storage URLs (HTTP)."""
        row = rows.get_pipeline(self.engine, pipeline_id, user_id, instance=self.instance)
        if row is None:
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

    def list(self, user_id: str, limit: int = 50, *, public: bool = False) -> list[PipelineRecord]:
        """The user's pipelines, newest first."""
        found = rows.list_pipelines(self.engine, user_id, limit, instance=self.instance)
        return [self._record(r, public) for r in found]

    def cancel(self, pipeline_id: str, user_id: str | None = None, *, public: bool = False) -> PipelineRecord:
        """Cancel a running pipeline and its remaining steps (``InvalidTransition`` if it ended)."""
        from ..service import call_scheduler

        call_scheduler(lambda: ray.get(self.media.scheduler.cancel_pipeline.remote(pipeline_id, user_id)))
        ray.get(self.media.scheduler.flush_now.remote())
        return self.get(pipeline_id, user_id, public=public)

    def wait(self, pipeline_id: str, user_id: str | None, timeout: float | None) -> PipelineRecord:
        """The pipeline once it ended, or as it is when ``timeout`` passes."""
        return self.media.wait_done(lambda: self.get(pipeline_id, user_id), timeout)

    def counts(self, user_id: str | None = None) -> dict[str, Any]:
        """Pipelines per status and their success rate (the statistics' ``pipelines``)."""
        return rows.pipeline_counts(self.engine, user_id, instance=self.instance)


def door_context(*, http: bool, tenant: str | None, share: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a pipeline or a schedule keeps of the request that made it, to apply to each step or
    tick: the door (``http``: its input rules) and the token's ``tenant`` and fair-share claims."""
    return {"http": bool(http), "tenant": tenant, "share": dict(share) if share else None}


def pipeline_row(spec: PipelineSpec, *, user_id: str, pipeline_id: str | None = None,
                 idempotency_key: str | None = None, metadata: Mapping[str, Any] | None = None,
                 context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``pipelines`` row of a validated ``spec`` (``validate``), for ``PipelineRunner.create``.
    Code inside the Scheduler (a schedule's tick) builds it here and hands it to its runner
    directly, with its own deterministic ``pipeline_id``: going through ``PipelineService`` would
    ``ray.get`` the Scheduler from inside itself. ``metadata`` joins the spec's own; ``context``
    (``door_context``) says under which rules and claims its steps run (default: the SDK's, none)."""
    body = spec.model_dump(mode="json")
    context = context or {}
    return {
        "id": pipeline_id or new_pipeline_id(), "user_id": user_id, "status": "running",
        "context": door_context(http=bool(context.get("http")), tenant=context.get("tenant"),
                                share=context.get("share")),
        "priority": spec.priority.value, "spec": {k: body[k] for k in ("steps", "priority")},
        "webhook_url": spec.webhook_url, "webhook_secret": spec.webhook_secret,
        "meta": {**spec.metadata, **(metadata or {})}, "idempotency_key": idempotency_key,
        "request_hash": fingerprint(["pipeline", body]) if idempotency_key else None, "error": None,
        "created_at": utcnow(), "finished_at": None,
    }


def _about(err: Any, fields: Set[str]) -> bool:
    """Whether a pydantic error concerns one of ``fields`` (a model-level check names its field
    first in its message: ``"cues: ..."``)."""
    if err["loc"]:
        return str(err["loc"][0]) in fields
    msg = str(err["msg"]).removeprefix("Value error, ")
    return msg.split(":", 1)[0] in fields


__all__ = ["PipelineService", "door_context", "pipeline_row"]
