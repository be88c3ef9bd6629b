"""The Scheduler actor and its parts (queue, backoff, dispatch, events)."""

from ..actor_names import NAMESPACE
from .handle import get_or_create_scheduler, kill_scheduler, scheduler_name

__all__ = ["NAMESPACE", "get_or_create_scheduler", "kill_scheduler", "scheduler_name"]
