"""What a tick runs: the one dispatch point of the target's tagged union.

``{"task": {...}}`` becomes one submission through the normal submit path, with a task id derived
from ``(schedule id, tick time)``: a tick submitted twice (a Scheduler killed between submitting
and advancing the schedule) lands on the task already stored instead of creating a second one.
A ``{"pipeline": {...}}`` target plugs in here and in ``validate_target`` once pipelines exist.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from .spec import ScheduleTarget

if TYPE_CHECKING:
    from ..service import MediaService

_TASK_PREFIX = "target.task.input_data."


def tick_task_id(schedule_id: str, tick: datetime) -> str:
    """The id of the task that ``tick`` of a schedule runs (the same every time it is computed)."""
    key = f"{schedule_id}|{tick.astimezone(UTC).isoformat()}"
    return "task_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _no_pipelines() -> InvalidRequest:
    return InvalidRequest("target.pipeline: pipelines cannot be scheduled in this version; use a 'task' target",
                          field="target.pipeline")


def validate_target(service: MediaService, target: ScheduleTarget, *, http: bool) -> dict[str, Any]:
    """The target as stored, once its body validated as it will be at each tick."""
    if target.task is not None:
        item = target.task
        service.validate(item.task_type, item.input_data, _TASK_PREFIX, http=http)
        return {"task": item.model_dump(mode="json", exclude_none=True)}
    raise _no_pipelines()


def submissions(service: MediaService, schedule: dict[str, Any], tick: datetime, ticks: int = 1, *,
                catch_up: bool = False) -> list[dict[str, Any]]:
    """Prepared submissions for one run of ``schedule`` at ``tick``; a ``catch_up`` run stands
    for ``ticks`` missed ticks, the latest of which is ``tick``."""
    target, context = schedule["target"], schedule["context"]
    if "task" in target:
        body = target["task"]
        prepared = service.prepare(body["task_type"], body["input_data"], user_id=schedule["user_id"],
                                   priority=body.get("priority"), prefix=_TASK_PREFIX,
                                   http=bool(context.get("http")), tenant=context.get("tenant"))
        prepared["id"] = tick_task_id(schedule["id"], tick)
        prepared["metadata"] = {**prepared["metadata"], "schedule": {
            "id": schedule["id"], "tick": tick.astimezone(UTC).isoformat(), "ticks": ticks, "catch_up": catch_up}}
        return [prepared]
    raise _no_pipelines()


def shown_target(target: dict[str, Any]) -> dict[str, Any]:
    """The target as users see it: never a webhook secret."""
    if "task" in target:
        body = dict(target["task"])
        body["input_data"] = {k: v for k, v in body.get("input_data", {}).items() if k != "webhook_secret"}
        return {"task": body}
    return dict(target)


__all__ = ["shown_target", "submissions", "tick_task_id", "validate_target"]
