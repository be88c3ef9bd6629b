"""Deterministic fault points for tests: an attempt pauses at a named point of its life until the
test lets it go, so the test can kill a worker, the Scheduler or the whole app exactly there.

Armed by the ``fault_pause_dir`` setting; unset (production), ``pause`` returns at once. A test
creates ``<dir>/<point>.arm``; the first attempt to reach ``point`` takes it (an atomic rename to
``<point>.<task_id>.paused``) and waits as long as that file exists. The points, in order:

* ``attempt_started``: the provider is about to run (nothing created remotely yet);
* ``job_created``: the remote side answered the create call; the job is not yet recorded;
* ``job_recorded``: the job is committed in the task's row;
* ``polling``: before each status read of the remote job;
* ``result_ready``: the attempt's result exists and has not been reported;
* ``pipeline_advance``: a pipeline's next steps are ready and not yet submitted (keyed by the
  pipeline id; it pauses the Scheduler's pipeline runner, not an attempt);
* ``dns_lookup``: a host name lookup (``resolver.Resolver``, in any process whose settings carry
  the folder), keyed by the host; ``hold`` keeps the lookup's own thread, as a DNS server that
  stops answering would, while its caller's deadline runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from .settings import Settings

log = logging.getLogger("videoai.executor")

POINTS = ("attempt_started", "job_created", "job_recorded", "polling", "result_ready", "pipeline_advance",
          "dns_lookup")
_POLL_SECONDS = 0.02


def _take(folder: Path | None, point: str, key: str) -> Path | None:
    """The paused file, when ``point`` is armed and this caller took it; ``None`` otherwise."""
    if folder is None:
        return None
    paused = folder / f"{point}.{key}.paused"
    try:
        (folder / f"{point}.arm").rename(paused)
    except FileNotFoundError:
        return None
    log.warning("fault point %s: %s paused until the test releases it", point, key)
    return paused


async def pause(settings: Settings, point: str, task_id: str) -> None:
    """Wait here while a test holds this attempt (only when armed for ``point``)."""
    paused = _take(settings.fault_pause_dir, point, task_id)
    while paused is not None and paused.exists():
        await asyncio.sleep(_POLL_SECONDS)


def hold(folder: Path | None, point: str, key: str) -> None:
    """``pause`` for a blocking caller (a thread of its own, never an event loop)."""
    paused = _take(folder, point, key)
    while paused is not None and paused.exists():
        time.sleep(_POLL_SECONDS)


__all__ = ["POINTS", "hold", "pause"]
