"""Fault injection for tests: kill the Scheduler between accepting a result and writing it, or
between submitting a schedule's tick and advancing the schedule.

Armed by the ``fault_kill_file`` setting: when that file exists and names a task id (or holds
``schedule:<id>``), the flush that is about to write that task's completion (or the tick pass
about to advance that schedule) deletes the file and kills its own process first (once: the
restarted Scheduler finds no file). Nothing happens when the setting is unset.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("videoai.scheduler")


def kill_before_write_if_armed(trigger: Path | None, changes: Iterable[dict[str, Any]]) -> None:
    if trigger is None or not trigger.exists():
        return
    task_id = trigger.read_text().strip()
    if any(ch["id"] == task_id and ch.get("status") == "completed" for ch in changes):
        _kill(trigger, f"before writing the completion of {task_id}")


def kill_if_armed_for(trigger: Path | None, token: str, when: str) -> None:
    """Kill this process when ``trigger`` holds exactly ``token``."""
    if trigger is not None and trigger.exists() and trigger.read_text().strip() == token:
        _kill(trigger, when)


def _kill(trigger: Path, when: str) -> None:
    trigger.unlink(missing_ok=True)
    log.warning("fault injection: killing the Scheduler %s", when)
    os.kill(os.getpid(), signal.SIGKILL)
