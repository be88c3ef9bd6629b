"""The body of a new schedule (``POST /schedules``, ``client.schedule``) and its checks.

The target is a tagged union with one key: ``{"task": {task_type, input_data, priority}}`` (a
``POST /batch`` item) or ``{"pipeline": {...}}`` (a ``POST /pipelines`` spec); ``targets.py`` is
the one place that dispatches on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..models import BatchItem
from ..pipelines.spec import PipelineSpec

#: what ``misfire`` means: ``run_once`` (the default) runs one catch-up task for all the ticks
#: missed while the Scheduler was down; ``skip`` runs none of them
MisfirePolicy = Literal["run_once", "skip"]
DEFAULT_MISFIRE: MisfirePolicy = "run_once"
DEFAULT_GRACE_SECONDS = 60.0
#: the kinds of target, one of which a schedule's ``target`` holds
_KINDS = ("task", "pipeline")


def _exactly_one_kind(schema: dict[str, Any]) -> None:
    """The published schema says what ``_one_kind`` enforces: one key, whose value is not null."""
    for kind in _KINDS:
        prop = schema["properties"][kind]
        prop.update(next(s for s in prop.pop("anyOf") if s.get("type") != "null"))
        prop.pop("default", None)
    schema.update(minProperties=1, maxProperties=1)


class ScheduleTarget(BaseModel):
    """What each tick runs: exactly one of ``task`` or ``pipeline``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_kind)

    task: BatchItem | None = Field(None, description="a task: `task_type`, `input_data`, optional `priority`")
    pipeline: PipelineSpec | None = Field(
        None, description="a pipeline, as `POST /pipelines` takes it (`steps`, `priority`, `webhook_url`, ...); "
                          "each tick starts one")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        # before the kinds' own checks: with both given, the error is the choice, not their bodies
        # (an unknown key is left to ``extra="forbid"``, which names it)
        if isinstance(data, dict) and set(data) <= set(_KINDS):
            given = [k for k in _KINDS if k in data]
            if len(given) != 1 or data[given[0]] is None:
                raise ValueError("give exactly one of 'task' or 'pipeline'")
        return data


class ScheduleRequest(BaseModel):
    """A schedule: exactly one of ``cron`` (in ``timezone``) or one time ``at``, and the target
    each tick runs."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="a label of your own")
    cron: str | None = Field(
        None, min_length=1, max_length=200,
        description="five fields (`minute hour day month weekday`), or six with seconds first; "
                    "evaluated in `timezone`; two firings may not come closer than the deployment's "
                    "minimum interval (`VIDEOAI_SCHEDULE_MIN_INTERVAL_SECONDS`, 60 s by default)")
    at: datetime | None = Field(
        None, description="one run at this time (ISO 8601; without an offset it is read in `timezone`); "
                          "must be in the future, and at most 100 years ahead")
    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone, e.g. `Europe/Lisbon`")
    target: ScheduleTarget
    misfire: MisfirePolicy = Field(
        DEFAULT_MISFIRE, description="ticks missed while the Scheduler was down: `run_once` runs one catch-up "
                                     "task for all of them, `skip` runs none")
    misfire_grace_seconds: float = Field(
        DEFAULT_GRACE_SECONDS, ge=1, le=86_400, allow_inf_nan=False,
        description="a tick that fires at most this late still runs on its own (it is not missed)")

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleRequest:
        if (self.cron is None) == (self.at is None):
            raise ValueError("cron: give exactly one of 'cron' or 'at'")
        return self


__all__ = ["DEFAULT_GRACE_SECONDS", "DEFAULT_MISFIRE", "MisfirePolicy", "ScheduleRequest", "ScheduleTarget"]
