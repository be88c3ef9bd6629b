"""Calling the Scheduler actor from the door: a package error raised inside it comes back as
itself, not wrapped in Ray's ``RayTaskError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray

from .errors import VideoAIError
from .outage_errors import store_error


def unwrap_ray_error(exc: BaseException) -> BaseException:
    """A package error raised inside the Scheduler, as itself rather than a ``RayTaskError``; a
    store outage met there as ``StoreUnavailable`` (or ``DiskFull``), not the driver's error."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, VideoAIError):
            return cause
        if isinstance(cause, Exception):
            return store_error(cause) or exc
    return exc


def call_scheduler(fn: Callable[..., Any]) -> Any:
    """Call ``fn``, re-raising a package error from inside the Scheduler as itself."""
    try:
        return fn()
    except ray.exceptions.RayTaskError as e:
        raise unwrap_ray_error(e) from None
