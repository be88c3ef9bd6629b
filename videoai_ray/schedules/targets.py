"""What a tick runs: the one dispatch point of the target's tagged union.

Every run of a tick has an id derived from ``(schedule id, tick time)``, so a tick run twice (a
Scheduler killed between running it and advancing the schedule) lands on what is already stored
instead of creating a second one:

- ``{"task": {...}}`` is one submission through the normal submit path, with the task id
  ``tick_task_id``;
- ``{"pipeline": {...}}`` is one pipeline (a ``POST /pipelines`` spec) with the pipeline id
  ``tick_pipeline_id`` (and so step task ids that follow from it), created by the Scheduler's own
  pipeline runner: never through ``MediaService``, which would ``ray.get`` the Scheduler from
  inside itself.

Both are validated by ``admission`` (tasks) and ``pipelines.validation`` (pipeline specs), below
the door: the schedule runner calls them from inside the Scheduler, and ``ScheduleService`` when a
schedule is created.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from ..errors import InvalidRequest
from ..pipelines.rows import pipeline_row
from ..pipelines.validation import validate_spec
from ..store.schedules import stored_task_ids
from ..store.schema import pipelines
from .spec import ScheduleTarget

if TYPE_CHECKING:
    from ..admission import Admission
    from ..pipelines.runner import PipelineRunner
    from ..scheduler.submit import Intake

_TASK_PREFIX = "target.task.input_data."
_PIPELINE_PREFIX = "target.pipeline."


def _tick_key(schedule_id: str, tick: datetime, kind: str = "") -> str:
    key = f"{schedule_id}|{tick.astimezone(UTC).isoformat()}{kind}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def tick_task_id(schedule_id: str, tick: datetime) -> str:
    """The id of the task that ``tick`` of a schedule runs (the same every time it is computed)."""
    return "task_" + _tick_key(schedule_id, tick)


def tick_pipeline_id(schedule_id: str, tick: datetime) -> str:
    """The id of the pipeline that ``tick`` of a schedule runs (the same every time it is computed)."""
    return "pipe_" + _tick_key(schedule_id, tick, "|pipeline")


def tick_run_id(target: dict[str, Any], schedule_id: str, tick: datetime) -> str:
    """The id of what ``tick`` runs: a task's or a pipeline's."""
    return (tick_pipeline_id if "pipeline" in target else tick_task_id)(schedule_id, tick)


def stored_runs(engine: Engine, target: dict[str, Any], ids: list[str]) -> set[str]:
    """Which of the runs ``ids`` (``tick_run_id``) are stored already."""
    return stored_task_ids(engine, ids, pipelines.c.id) if "pipeline" in target else stored_task_ids(engine, ids)


def _under(prefix: str, e: InvalidRequest) -> InvalidRequest:
    """``e`` (about a field of the pipeline spec) naming the field under ``prefix``."""
    field = f"{prefix}{e.field}" if e.field else prefix.rstrip(".")
    message = e.message.removeprefix(f"{e.field}: ") if e.field else e.message
    details = {k: v for k, v in e.details.items() if k != "field"}
    if isinstance(details.get("errors"), list):
        details["errors"] = [{**x, "field": f"{prefix}{x.get('field', '')}"} for x in details["errors"]]
    return InvalidRequest(f"{field}: {message}", field=field, **details)


def _pipeline_spec(admission: Admission, spec: Any, *, http: bool) -> Any:
    """The pipeline spec validated exactly as ``POST /pipelines`` validates it, its errors
    naming ``target.pipeline.<field>``."""
    try:
        return validate_spec(admission, spec, http=http)
    except InvalidRequest as e:
        raise _under(_PIPELINE_PREFIX, e) from None


def validate_target(admission: Admission, target: ScheduleTarget, *, http: bool) -> dict[str, Any]:
    """The target as stored, once its body validated as it will be at each tick."""
    if target.task is not None:
        item = target.task
        admission.validate(item.task_type, item.input_data, _TASK_PREFIX, http=http)
        return {"task": item.model_dump(mode="json", exclude_none=True)}
    assert target.pipeline is not None
    return {"pipeline": _pipeline_spec(admission, target.pipeline, http=http).model_dump(mode="json")}


def submissions(admission: Admission, schedule: dict[str, Any], tick: datetime, ticks: int = 1, *,
                catch_up: bool = False) -> list[Any]:
    """What one run of ``schedule`` at ``tick`` launches (``launch``): prepared task submissions
    (``protocol.Submission``), or a pipeline row; a ``catch_up`` run stands for ``ticks`` missed
    ticks, the latest of which is ``tick``. Each runs with the door, tenant and fair-share claims
    stored with the schedule (``context``), so a tick never changes what the user's token claims.
    ``InvalidRequest`` when the target no longer validates."""
    target, context = schedule["target"], schedule["context"]
    about = {"id": schedule["id"], "tick": tick.astimezone(UTC).isoformat(), "ticks": ticks, "catch_up": catch_up}
    if "pipeline" in target:
        spec = _pipeline_spec(admission, target["pipeline"], http=bool(context.get("http")))
        return [pipeline_row(spec, user_id=schedule["user_id"], pipeline_id=tick_pipeline_id(schedule["id"], tick),
                             metadata={"schedule": about}, context=context)]
    body = target["task"]
    prepared = admission.prepare(body["task_type"], body["input_data"], user_id=schedule["user_id"],
                                 priority=body.get("priority"), prefix=_TASK_PREFIX,
                                 http=bool(context.get("http")), tenant=context.get("tenant"),
                                 share=context.get("share"))
    prepared["id"] = tick_task_id(schedule["id"], tick)
    prepared["metadata"] = {**prepared["metadata"], "schedule": about}
    return [prepared]


async def launch(intake: Intake, pipelines: PipelineRunner, target: dict[str, Any],
                 items: list[Any]) -> None:
    """Run ``submissions`` inside the Scheduler: tasks through its intake (ids that may be stored
    already), pipelines through its pipeline runner (a stored id is found, not doubled)."""
    if "pipeline" in target:
        for row in items:
            await pipelines.create(row)
    else:
        await intake.submit(items, known_ids=True)


def _no_secret(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "webhook_secret"}


def shown_target(target: dict[str, Any]) -> dict[str, Any]:
    """The target as users see it: never a webhook secret (a task's, a pipeline's or a step's)."""
    if "task" in target:
        body = dict(target["task"])
        body["input_data"] = _no_secret(body.get("input_data", {}))
        return {"task": body}
    if "pipeline" in target:
        spec = _no_secret(target["pipeline"])
        spec["steps"] = [{**s, "input": _no_secret(s.get("input", {}))} for s in spec.get("steps", [])]
        return {"pipeline": spec}
    return dict(target)


__all__ = ["launch", "shown_target", "stored_runs", "submissions", "tick_pipeline_id", "tick_run_id", "tick_task_id",
           "validate_target"]
