"""The Scheduler's batched write, made so that one bad row cannot hold back the others.

All pending task changes and their webhook outbox rows go out in one transaction. If it fails
because the database cannot be reached, the caller keeps everything and tries again later. If it
fails for any other reason (a value the driver or the column cannot take), the batch is split in
halves, per task, until every task that can be written is, and the ones that cannot are named.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..outage_errors import unreachable
from ..store import TaskStore, utcnow

log = logging.getLogger("videoai.scheduler")


@dataclass(slots=True)
class _Unit:
    task_id: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)


def write(store: TaskStore, changes: Sequence[dict[str, Any]], events: Sequence[Any]) -> None:
    """One transaction: the changes and the outbox rows of ``events``."""
    inserts = []
    if events:
        from ..webhooks.outbox import outbox_rows
        from ..webhooks.schema import webhook_deliveries

        inserts.append((webhook_deliveries, outbox_rows(events, utcnow(), store.instance)))
    store.update_many(changes, inserts)


def write_or_split(store: TaskStore, changes: Sequence[dict[str, Any]], events: Sequence[Any]) -> dict[str, str]:
    """Write everything; returns ``{task_id: error}`` for the tasks whose rows could not be written
    even alone (everything else is committed). Raises when the database is unreachable."""
    try:
        write(store, changes, events)
        return {}
    except Exception as exc:
        if unreachable(exc):
            raise
        log.error("a write of %d task changes failed (%s: %s); writing task by task",
                  len(changes), type(exc).__name__, exc)
    units: dict[str, _Unit] = defaultdict(lambda: _Unit(""))
    for ch in changes:
        units[ch["id"]].changes.append(ch)
    for ev in events:
        units[ev.task_id].events.append(ev)
    for tid, unit in units.items():
        unit.task_id = tid
    return _bisect(store, list(units.values()))


def _bisect(store: TaskStore, units: list[_Unit]) -> dict[str, str]:
    try:
        write(store, [c for u in units for c in u.changes], [e for u in units for e in u.events])
        return {}
    except Exception as exc:
        if unreachable(exc):
            raise
        if len(units) == 1:
            return {units[0].task_id: f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}"}
    mid = len(units) // 2
    return _bisect(store, units[:mid]) | _bisect(store, units[mid:])


__all__ = ["unreachable", "write", "write_or_split"]
