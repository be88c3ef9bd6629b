"""The ``pipelines`` table: a validated spec's row, insert, read, finish (with the webhook outbox
row, in one transaction) and count. The Scheduler's pipeline runner is the only writer; everyone
else reads. Every read that finds pipelines (by id, by idempotency key, the running ones, lists
and counts) sees only one instance's (``instance``): deployments sharing a database never advance
or show each other's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, func, insert, select, update

from ..admission import door_context, fingerprint
from ..clock import aware, utcnow
from ..store.owners import owned
from ..store.schema import pipelines
from .model import PipelineStatus, new_pipeline_id

if TYPE_CHECKING:
    from .spec import PipelineSpec

_RUNNING = PipelineStatus.RUNNING.value


def _row(r: Any) -> dict[str, Any]:
    m = dict(r._mapping)
    m["created_at"], m["finished_at"] = aware(m["created_at"]), aware(m["finished_at"])
    return m


def pipeline_row(spec: PipelineSpec, *, user_id: str, pipeline_id: str | None = None,
                 idempotency_key: str | None = None, metadata: Mapping[str, Any] | None = None,
                 context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``pipelines`` row of a validated ``spec`` (``validation.validate_spec``), for
    ``PipelineRunner.create``. Code inside the Scheduler (a schedule's tick) builds it here and
    hands it to its runner directly, with its own deterministic ``pipeline_id``: going through
    ``PipelineService`` would ``ray.get`` the Scheduler from inside itself. ``metadata`` joins the
    spec's own; ``context`` (``admission.door_context``) says under which rules and claims its
    steps run (default: the SDK's, none)."""
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


def insert_pipeline(engine: Engine, row: dict[str, Any], *, instance: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(pipelines).values(**row, instance=instance))


def get_pipeline(engine: Engine, pipeline_id: str, user_id: str | None = None, *,
                 instance: str) -> dict[str, Any] | None:
    """The row of ``pipeline_id`` (only if ``user_id`` owns it, when given)."""
    q = select(pipelines).where(pipelines.c.id == pipeline_id, pipelines.c.instance == instance)
    if user_id is not None:
        q = q.where(pipelines.c.user_id == user_id)
    with engine.connect() as conn:
        r = conn.execute(q).first()
    return _row(r) if r is not None else None


def find_idempotent(engine: Engine, user_id: str, key: str, *, instance: str) -> tuple[str, str | None] | None:
    """``(pipeline id, spec fingerprint)`` of the user's pipeline created with ``key``."""
    q = select(pipelines.c.id, pipelines.c.request_hash).where(
        and_(pipelines.c.instance == instance, pipelines.c.user_id == user_id, pipelines.c.idempotency_key == key))
    with engine.connect() as conn:
        r = conn.execute(q).first()
    return (r.id, r.request_hash) if r is not None else None


def running_ids(engine: Engine, *, instance: str) -> list[str]:
    """Every pipeline of ``instance`` not yet finished, oldest first."""
    q = (select(pipelines.c.id).where(pipelines.c.instance == instance, pipelines.c.status == _RUNNING)
         .order_by(pipelines.c.created_at))
    with engine.connect() as conn:
        return [r.id for r in conn.execute(q)]


def statuses(engine: Engine, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    with engine.connect() as conn:
        q = select(pipelines.c.id, pipelines.c.status).where(pipelines.c.id.in_(list(ids)))
        return {r.id: r.status for r in conn.execute(q)}


def finish_pipeline(engine: Engine, pipeline_id: str, status: PipelineStatus, error: dict[str, Any] | None,
                    outbox: list[dict[str, Any]]) -> bool:
    """Move a running pipeline to ``status`` and insert its webhook outbox rows, in one
    transaction; ``False`` (nothing written) when it was no longer running."""
    from ..webhooks.schema import webhook_deliveries

    with engine.begin() as conn:
        done = conn.execute(update(pipelines).where(and_(pipelines.c.id == pipeline_id,
                                                         pipelines.c.status == _RUNNING))
                            .values(status=status.value, error=error, finished_at=utcnow())).rowcount
        if done and outbox:
            conn.execute(insert(webhook_deliveries), outbox)
    return bool(done)


def list_pipelines(engine: Engine, user_id: str | None, limit: int = 50, *, instance: str,
                   user_prefix: str | None = None) -> list[dict[str, Any]]:
    """Newest first: ``user_id``'s, or (``None``) every owner's under ``user_prefix``."""
    q = (select(pipelines).where(pipelines.c.instance == instance, *owned(pipelines.c.user_id, user_id, user_prefix))
         .order_by(pipelines.c.created_at.desc(), pipelines.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def pipeline_counts(engine: Engine, user_id: str | None = None, since: datetime | None = None, *,
                    instance: str, user_prefix: str | None = None) -> dict[str, Any]:
    """``{"total", "by_status", "success_rate"}`` of an instance's pipelines (a user's, every
    owner's under ``user_prefix``, or everyone's)."""
    q = (select(pipelines.c.status, func.count())
         .where(pipelines.c.instance == instance, *owned(pipelines.c.user_id, user_id, user_prefix))
         .group_by(pipelines.c.status))
    if since is not None:
        q = q.where(pipelines.c.created_at >= since)
    with engine.connect() as conn:
        by_status = {r[0]: int(r[1]) for r in conn.execute(q)}
    ok, bad = by_status.get("completed", 0), by_status.get("failed", 0)
    return {"total": sum(by_status.values()), "by_status": by_status,
            "success_rate": ok / (ok + bad) if ok + bad else None}


__all__ = ["finish_pipeline", "find_idempotent", "get_pipeline", "insert_pipeline", "list_pipelines",
           "pipeline_counts", "pipeline_row", "running_ids", "statuses"]
