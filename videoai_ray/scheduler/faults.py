"""Fault injection for tests: kill the Scheduler between accepting a result and writing it.

Armed by the ``fault_kill_file`` setting: when that file exists and names a task id, the flush
that is about to write that task's completion deletes the file and kills its own process first
(once: the restarted Scheduler finds no file). Nothing happens when the setting is unset.
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
        trigger.unlink(missing_ok=True)
        log.warning("fault injection: killing the Scheduler before writing the completion of %s", task_id)
        os.kill(os.getpid(), signal.SIGKILL)
