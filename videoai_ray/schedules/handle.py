"""The SDK's view of a schedule: ``client.schedule(...)`` returns a ``Schedule`` whose ``record``
is the same JSON the HTTP API returns; ``client.schedules()`` is a frame of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..client_namespaces import ClientNamespace
from ..errors import InvalidRequest
from ..models import TaskType
from . import DEFAULT_GRACE_SECONDS, DEFAULT_MISFIRE

if TYPE_CHECKING:
    from ..client import Client
    from ..pipelines.handle import Pipeline

_FRAME_COLUMNS = ["name", "state", "kind", "cron", "at", "timezone", "next_run_at", "ticks_fired", "ticks_missed",
                  "last_tick_at", "last_task_id", "last_pipeline_id", "misfire", "created_at"]


class Schedule:
    """One of your schedules; ``refresh()`` reads it again, ``pause()``, ``resume()`` and
    ``delete()`` change it."""

    def __init__(self, client: Client, record: dict[str, Any]) -> None:
        self.client = client
        self.record = record

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def state(self) -> str:
        return str(self.record["state"])

    @property
    def next_runs(self) -> pd.DataFrame:
        """The next run times, in UTC and in the schedule's time zone."""
        return pd.DataFrame(self.record["next_runs"], columns=["utc", "local"])

    def last_pipeline(self) -> Pipeline | None:
        """The pipeline the latest tick started (a pipeline target), ``None`` before any."""
        pipeline_id = self.record.get("last_pipeline_id")
        return self.client.pipelines.get(pipeline_id) if pipeline_id else None

    def refresh(self, n_next: int = 5) -> Schedule:
        self.record = self.client.service.schedules.get(self.id, self.client.user_id, n_next)
        return self

    def pause(self) -> Schedule:
        self.record = self.client.service.schedules.pause(self.id, self.client.user_id)
        return self

    def resume(self) -> Schedule:
        self.record = self.client.service.schedules.resume(self.id, self.client.user_id)
        return self

    def delete(self) -> None:
        self.client.service.schedules.delete(self.id, self.client.user_id)

    def __repr__(self) -> str:
        r = self.record
        when = r["cron"] if r["kind"] == "cron" else r["at"]
        return (f"<Schedule {self.id} {r['state']} {when!r} {r['timezone']} next={r['next_run_at']} "
                f"fired={r['ticks_fired']} missed={r['ticks_missed']}>")


class Schedules(ClientNamespace):
    """``client.schedules``: run tasks or pipelines on a clock; ``client.schedules()`` lists yours."""

    def __call__(self, limit: int = 100) -> pd.DataFrame:
        return self.list(limit)

    def list(self, limit: int = 100) -> pd.DataFrame:
        """Your schedules, newest first: state, trigger, next run (UTC), ticks fired and missed."""
        return schedules_frame(self._client.service.schedules.list(self._user, limit))

    def create(self, task_type: TaskType | str | None = None, input_data: Mapping[str, Any] | None = None, *,
               cron: str | None = None, at: datetime | str | None = None, timezone: str = "UTC",
               priority: str | None = None, name: str | None = None, misfire: str = DEFAULT_MISFIRE,
               misfire_grace_seconds: float = DEFAULT_GRACE_SECONDS, target: Mapping[str, Any] | None = None,
               pipeline: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Schedule:
        """Run a task on ``cron`` (five fields, or six with seconds first) in ``timezone``, or
        once ``at`` a time; each tick runs exactly once, across Scheduler restarts. ``misfire``:
        ticks missed while the Scheduler was down run once together (``run_once``) or not at
        all (``skip``). ``pipeline`` (a spec as ``client.pipelines.create(spec=...)`` takes it, or
        its steps) starts a pipeline at each tick instead of a task. ``target`` instead takes the
        tagged form (``{"task": {...}}`` or ``{"pipeline": {...}}``). A bad field raises
        ``InvalidRequest`` naming it; nothing is stored."""
        ttype = task_type.value if isinstance(task_type, TaskType) else task_type
        body = schedule_body(ttype, input_data, target=target, cron=cron, at=at, timezone=timezone, priority=priority,
                             name=name, misfire=misfire, misfire_grace_seconds=misfire_grace_seconds,
                             pipeline=pipeline)
        return Schedule(self._client, self._client.service.schedules.create(body, user_id=self._user))

    def get(self, schedule_id: str, n_next: int = 5) -> Schedule:
        """One of your schedules, with its next ``n_next`` run times; ``ScheduleNotFound`` otherwise."""
        return Schedule(self._client, self._client.service.schedules.get(schedule_id, self._user, n_next))

    def pause(self, schedule_id: str) -> Schedule:
        """No tick starts until ``resume``; once this returns, its counters are final."""
        return Schedule(self._client, self._client.service.schedules.pause(schedule_id, self._user))

    def resume(self, schedule_id: str) -> Schedule:
        """Ticks that fell while it was paused do not run."""
        return Schedule(self._client, self._client.service.schedules.resume(schedule_id, self._user))

    def delete(self, schedule_id: str) -> None:
        """Delete it; the tasks it created stay."""
        self._client.service.schedules.delete(schedule_id, self._user)


def schedule_body(task_type: str | None, input_data: Mapping[str, Any] | None, *, target: Mapping[str, Any] | None,
                  cron: str | None, at: datetime | str | None, timezone: str, priority: str | None,
                  name: str | None, misfire: str, misfire_grace_seconds: float,
                  pipeline: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The body of ``POST /schedules`` from the SDK's keyword arguments. ``pipeline``: a spec as
    ``client.pipeline(spec=...)`` takes it, or just its steps."""
    if pipeline is not None:
        if target is not None or task_type is not None or input_data is not None:
            raise InvalidRequest("target: give one of task_type and input_data, pipeline=, or target=",
                                 field="target")
        spec: dict[str, Any] = (dict(pipeline) if isinstance(pipeline, Mapping)
                                else {"steps": [dict(s) for s in pipeline]})
        if priority is not None:
            spec.setdefault("priority", priority)
        target = {"pipeline": spec}
    if target is None:
        if task_type is None or input_data is None:
            raise InvalidRequest("target: give task_type and input_data, or target=", field="target")
        task: dict[str, Any] = {"task_type": task_type, "input_data": dict(input_data)}
        if priority is not None:
            task["priority"] = priority
        target = {"task": task}
    elif task_type is not None or input_data is not None:
        raise InvalidRequest("target: give task_type and input_data, or target=, not both", field="target")
    body: dict[str, Any] = {"target": dict(target), "timezone": timezone, "misfire": misfire,
                            "misfire_grace_seconds": misfire_grace_seconds}
    for key, value in (("cron", cron), ("at", at), ("name", name)):
        if value is not None:
            body[key] = value
    return body


def schedules_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Schedules as a frame indexed by id."""
    return pd.DataFrame(rows, columns=["id", *_FRAME_COLUMNS]).set_index("id")


__all__ = ["Schedule", "Schedules", "schedule_body", "schedules_frame"]
