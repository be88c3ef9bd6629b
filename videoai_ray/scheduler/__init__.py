"""The Scheduler actor and its parts (queue, backoff, dispatch, events)."""

from ..actor_names import NAMESPACE
from .named_actor import deployment_settings, find_scheduler, get_or_create_scheduler, kill_scheduler, scheduler_name

__all__ = ["NAMESPACE", "deployment_settings", "find_scheduler", "get_or_create_scheduler", "kill_scheduler",
           "scheduler_name"]
