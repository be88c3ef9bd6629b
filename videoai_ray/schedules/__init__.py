"""Scheduled tasks and pipelines (issue 15): cron expressions in a time zone or one time, fired
exactly once per tick by the Scheduler's tick loop (``runner``), read and changed through ``MediaService.schedules``."""

from .spec import DEFAULT_GRACE_SECONDS, DEFAULT_MISFIRE, ScheduleRequest, ScheduleTarget
from .targets import tick_pipeline_id, tick_task_id

__all__ = ["DEFAULT_GRACE_SECONDS", "DEFAULT_MISFIRE", "ScheduleRequest", "ScheduleTarget", "tick_pipeline_id",
           "tick_task_id"]
