"""ScheduleService: schedules for every entry point (SDK, HTTP, CLI) through the one door to the
core (``MediaService.schedules`` owns one): validation of a new schedule, the reads (straight from
the store) and the changes (through the Scheduler, which fires the ticks, so no change races a tick)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ray
from pydantic import ValidationError

from ..admission import door_context, invalid_field
from ..errors import InvalidRequest, ScheduleNotFound
from ..store import utcnow
from ..store.schedules import get_schedule, list_schedules, schedule_counts
from .spec import ScheduleRequest
from .targets import shown_target, validate_target
from .timing import check_at, check_cron, check_rate, cron_ticks, describe_time, next_runs, zone

if TYPE_CHECKING:
    from ..service import MediaService

#: most run times one read shows
MAX_NEXT_RUNS = 100


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat() if t is not None else None


def schedule_view(row: dict[str, Any], n_next: int = 5) -> dict[str, Any]:
    """A stored schedule as the SDK and the HTTP API show it (JSON-ready), with its next
    ``n_next`` run times in UTC and in its time zone (none while paused or done)."""
    tz = zone(row["timezone"])
    pipeline = "pipeline" in row["target"]
    runs: list[datetime] = []
    first = row["next_run_at"]
    if row["state"] == "active" and first is not None and n_next > 0:
        runs = [first, *next_runs(row["cron"], row["at"], tz, first, n_next - 1)]
    return {
        "id": row["id"], "name": row["name"], "state": row["state"],
        "kind": "cron" if row["cron"] is not None else "at",
        "cron": row["cron"], "at": _iso(row["at"]), "timezone": row["timezone"],
        "target": shown_target(row["target"]),
        "misfire": row["misfire"], "misfire_grace_seconds": row["misfire_grace_seconds"],
        "next_run_at": _iso(first) if row["state"] == "active" else None,
        "next_runs": [describe_time(t, tz) for t in runs],
        "ticks_fired": row["ticks_fired"], "ticks_missed": row["ticks_missed"],
        # the column holds the id of what the last tick ran: a task's, or a pipeline's
        "last_tick_at": _iso(row["last_tick_at"]),
        "last_task_id": None if pipeline else row["last_task_id"],
        "last_pipeline_id": row["last_task_id"] if pipeline else None,
        "last_error": row["last_error"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }


def new_schedule_row(service: MediaService, body: Mapping[str, Any] | ScheduleRequest, *, user_id: str,
                     http: bool, tenant: str | None, now: datetime,
                     share: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A validated schedule row; ``InvalidRequest`` naming the field otherwise (nothing stored).
    ``http``, ``tenant`` and ``share`` (the creator's door and token claims) apply to each tick."""
    try:
        req = body if isinstance(body, ScheduleRequest) else ScheduleRequest.model_validate(dict(body))
    except ValidationError as e:
        raise invalid_field(e) from None
    tz = zone(req.timezone)
    at = None
    if req.cron is not None:
        check_cron(req.cron)
        first = next(cron_ticks(req.cron, tz, now), None)
        if first is None:
            raise InvalidRequest(f"cron: {req.cron!r} never fires again", field="cron")
        check_rate(req.cron, tz, now, service.settings.schedule_min_interval_seconds)
    else:
        assert req.at is not None
        at = first = check_at(req.at, tz, now)
    target = validate_target(service.admission, req.target, http=http)
    return {
        "id": "sched_" + uuid.uuid4().hex, "user_id": user_id, "name": req.name, "cron": req.cron, "at": at,
        "timezone": req.timezone, "target": target,
        "context": door_context(http=http, tenant=tenant, share=share),
        "misfire": req.misfire, "misfire_grace_seconds": req.misfire_grace_seconds, "state": "active",
        "next_run_at": first, "last_tick_at": None, "last_task_id": None, "last_error": None,
        "ticks_fired": 0, "ticks_missed": 0, "created_at": now, "updated_at": now,
    }


class ScheduleService:
    """Create, read, pause, resume and delete schedules of a user."""

    def __init__(self, media: MediaService) -> None:
        self.media = media

    def create(self, body: Mapping[str, Any] | ScheduleRequest, *, user_id: str, http: bool = False,
               tenant: str | None = None, share: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validate and store a schedule; its view (``schedule_view``). ``tenant`` and ``share``
        (the caller's token claims) go with each of its ticks. ``InvalidRequest`` naming the field
        for bad input, ``QuotaExceeded`` when the user holds ``user_max_schedules`` already; nothing
        is stored then."""
        row = new_schedule_row(self.media, body, user_id=user_id, http=http, tenant=tenant, now=utcnow(),
                               share=share)
        # counted and stored in one step of the Scheduler (the schedules' single writer): no race
        self._op("create", row, self.media.settings.user_max_schedules)
        return self.get(row["id"], user_id)

    def get(self, schedule_id: str, user_id: str | None, n_next: int = 5, *,
            user_prefix: str | None = None) -> dict[str, Any]:
        """One of the user's schedules (or of an owner under ``user_prefix``); ``ScheduleNotFound``
        for an unknown id or another user's."""
        if not 0 <= n_next <= MAX_NEXT_RUNS:
            raise InvalidRequest(f"next: must be from 0 to {MAX_NEXT_RUNS}", field="next")
        row = get_schedule(self.media.store.engine, schedule_id, user_id, instance=self.media.store.instance)
        if row is None or (user_prefix is not None and not row["user_id"].startswith(user_prefix)):
            raise ScheduleNotFound(f"no schedule {schedule_id}")
        return schedule_view(row, n_next)

    def list(self, user_id: str | None, limit: int = 100, *, user_prefix: str | None = None) -> list[dict[str, Any]]:
        """The user's schedules (or every owner's under ``user_prefix``), newest first."""
        store = self.media.store
        return [schedule_view(r) for r in list_schedules(store.engine, user_id, limit, instance=store.instance,
                                                         user_prefix=user_prefix)]

    def pause(self, schedule_id: str, user_id: str) -> dict[str, Any]:
        return self._change("pause", schedule_id, user_id)

    def resume(self, schedule_id: str, user_id: str) -> dict[str, Any]:
        return self._change("resume", schedule_id, user_id)

    def delete(self, schedule_id: str, user_id: str) -> None:
        """Delete a schedule; the tasks it created stay."""
        if not self._op("delete", schedule_id, user_id):
            raise ScheduleNotFound(f"no schedule {schedule_id}")

    def statistics(self, user_id: str | None, *, user_prefix: str | None = None) -> dict[str, Any]:
        """Schedules per state, ticks fired and missed (the statistics' ``schedules``)."""
        return schedule_counts(self.media.store.engine, user_id, instance=self.media.store.instance,
                               user_prefix=user_prefix)

    def _change(self, op: str, schedule_id: str, user_id: str) -> dict[str, Any]:
        if not self._op(op, schedule_id, user_id):
            raise ScheduleNotFound(f"no schedule {schedule_id}")
        return self.get(schedule_id, user_id)

    def _op(self, op: str, *args: Any) -> bool:
        from ..scheduler_calls import call_scheduler

        return bool(call_scheduler(lambda: ray.get(self.media.scheduler.schedule_op.remote(op, *args))))


__all__ = ["MAX_NEXT_RUNS", "ScheduleService", "new_schedule_row", "schedule_view"]
