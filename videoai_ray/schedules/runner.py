"""The tick loop, inside the Scheduler actor (the single writer of tasks and schedules).

Each pass takes the active schedules with a tick due, runs each due tick's target (a task through
the Scheduler's normal submit path, or a pipeline through its pipeline runner; the id derived
from the schedule and the tick), and only then advances the schedule's ``next_run_at``. A
Scheduler killed in between comes back, finds the same ticks due, sees their tasks (or
pipelines) already stored, and advances without running them again: every tick runs exactly
once across restarts.

Ticks more than ``misfire_grace_seconds`` late (the Scheduler was down, or the schedule's clock
was behind) are *missed*: ``run_once`` submits one catch-up task for all of them (keyed by the
latest), ``skip`` submits none. Creating, pausing, resuming and deleting a schedule also run
here: a change of a schedule waits for a pass that is firing it, and a pass re-reads the schedule
before firing it, so none of them races a tick (once ``pause`` returns, no run of it starts and
its counters are final).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from ..admission import Admission
from ..errors import InvalidRequest, QuotaExceeded
from ..scheduler.faults import kill_if_armed_for
from ..store import utcnow
from ..store.schedules import (
    change_schedule,
    delete_schedule,
    due_schedules,
    earliest_due,
    get_schedule,
    insert_schedule,
    live_schedules,
)
from ..tenants.ids import owner_prefix, tenant_of
from ..tenants.service import TenantService
from .targets import launch, stored_runs, submissions, tick_run_id
from .timing import cron_ticks, due_ticks, zone

if TYPE_CHECKING:
    from ..pipelines.runner import PipelineRunner
    from ..scheduler.state import SchedulerState
    from ..scheduler.submit import Intake

log = logging.getLogger("videoai.schedules")

#: the longest the loop sleeps with nothing due (every change of a schedule wakes it anyway)
_IDLE_SECONDS = 5.0
_RETRY_SECONDS = 1.0


class ScheduleRunner:
    """Fires due ticks and applies schedule changes; one per Scheduler."""

    def __init__(self, state: SchedulerState, intake: Intake, pipelines: PipelineRunner) -> None:
        self.state, self.intake, self.pipelines = state, intake, pipelines
        self.engine = state.store.engine
        self.instance = state.settings.instance
        #: validation and preparation of each tick's submission, as for a user's request, except
        #: that URLs are checked by name only: nothing on the Scheduler's loop waits on DNS (they
        #: were resolved and checked when the schedule was created, and are again where used)
        self.admission = Admission(state.settings, state.store, resolve_dns=False)
        #: whether a schedule's tenant may work now (a suspended tenant's ticks are skipped)
        self.tenants = TenantService(self.engine, self.instance, state.settings.tenant_cache_seconds).directory
        self._wake: asyncio.Event | None = None
        #: one lock per schedule being fired or changed (dropped when no one holds it)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._creating = asyncio.Lock()

    def _lock(self, schedule_id: str) -> asyncio.Lock:
        lock = self._locks.get(schedule_id)
        if lock is None:
            lock = self._locks[schedule_id] = asyncio.Lock()
        return lock

    # -- the loop ------------------------------------------------------------------------------

    async def loop(self) -> None:
        self._wake = asyncio.Event()
        watch = self.state.watch
        while True:
            try:
                failed = await self.run_due(utcnow())
                delay = _RETRY_SECONDS if failed else await self._delay(utcnow())
            except Exception as exc:
                # nothing advanced, the same ticks come back next pass; a store outage is logged
                # once, when it begins (StoreWatch), not at every pass
                if not watch.failed(exc, "due schedule ticks wait"):
                    log.error("schedule pass failed; trying again in %.0fs", _RETRY_SECONDS, exc_info=True)
                delay = _RETRY_SECONDS
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _delay(self, now: datetime) -> float:
        nxt = await self.state.watch.call(earliest_due, self.engine, self.instance)
        if nxt is None:
            return _IDLE_SECONDS
        return min(max((nxt - now).total_seconds(), 0.0), _IDLE_SECONDS)

    async def run_due(self, now: datetime) -> int:
        """One pass over the due schedules; returns how many could not be fired (they stay due
        and come back at the next pass, after ``_RETRY_SECONDS``)."""
        failed = 0
        for row in await self.state.watch.call(due_schedules, self.engine, self.instance, now):
            try:
                await self.fire(row, now)
            except Exception as exc:
                failed += 1
                if not self.state.watch.failed(exc, "due schedule ticks wait"):
                    log.error("schedule %s: its due ticks could not be fired; trying again", row["id"], exc_info=True)
        return failed

    async def fire(self, row: dict[str, Any], now: datetime) -> int:
        """Run the due ticks of one schedule, then advance it; returns the runs (tasks or
        pipelines) started. Holds the schedule's lock, so a pause, resume or delete waits for it,
        and reads the schedule again under it: one changed since the pass listed it fires nothing."""
        async with self._lock(row["id"]):
            fresh = await self.state.watch.call(partial(get_schedule, self.engine, row["id"], instance=self.instance))
            if fresh is None or fresh["state"] != "active" or fresh["next_run_at"] != row["next_run_at"]:
                return 0
            return await self._fire(fresh, now)

    async def _fire(self, row: dict[str, Any], now: datetime) -> int:
        target = row["target"]
        plan = due_ticks(row["cron"], zone(row["timezone"]), row["next_run_at"], now)
        ids = [tick_run_id(target, row["id"], t) for t in plan.due]
        stored = await self.state.watch.call(stored_runs, self.engine, target, ids)
        # an earlier pass submitted up to its last stored tick and died before advancing: the
        # ticks up to there were settled by it (run, merged into a catch-up, or skipped)
        settled = max((i for i, tid in enumerate(ids) if tid in stored), default=-1) + 1
        pending = plan.due[settled:]
        grace = float(row["misfire_grace_seconds"])
        on_time = [t for t in pending if (now - t).total_seconds() <= grace]
        late_ticks = pending[:len(pending) - len(on_time)]  # oldest first: the late ones lead
        late = len(late_ticks) + (plan.count - len(plan.due))
        runs = [(t, 1, False) for t in on_time]
        if late_ticks and row["misfire"] == "run_once":
            runs.insert(0, (late_ticks[-1], late, True))
        missed = late + (settled - len(stored))
        error = None
        items: list[dict[str, Any]] = []
        try:
            # validation is blocking work (the store, the experiments): off the event loop
            items = await asyncio.to_thread(self._submissions, row, runs)
        except InvalidRequest as e:
            # the target no longer validates (a setting changed): this pass runs nothing
            error, items = e.message, []
            missed += len(on_time)
            log.warning("schedule %s: its target is refused (%s); ticks skipped", row["id"], e.message)
        if items:
            await launch(self.intake, self.pipelines, target, items)
        kill_if_armed_for(self.state.settings.fault_kill_file, f"schedule:{row['id']}",
                          f"between submitting a tick of {row['id']} and advancing it")
        last = max((r[0] for r in runs), default=None) if items else None
        values: dict[str, Any] = {
            "next_run_at": plan.next_run_at,
            "ticks_fired": row["ticks_fired"] + len(stored) + len(items),
            "ticks_missed": row["ticks_missed"] + missed,
            "last_error": error,
        }
        if plan.next_run_at is None:
            values["state"] = "done"
        if last is not None:
            values.update(last_tick_at=last, last_task_id=tick_run_id(target, row["id"], last))
        await self.state.watch.call(partial(change_schedule, self.engine, row["id"], None, instance=self.instance,
                                            **values))
        return len(items)

    def _submissions(self, row: dict[str, Any], runs: list[tuple[datetime, int, bool]]) -> list[dict[str, Any]]:
        # a suspended tenant's schedules skip their ticks (counted missed) until it is resumed
        refused = self.tenants.refusal((row.get("context") or {}).get("tenant"))
        if refused:
            raise InvalidRequest(refused, field="tenant")
        return [item for tick, ticks, catch_up in runs
                for item in submissions(self.admission, row, tick, ticks, catch_up=catch_up)]

    # -- changes (called through the Scheduler's ``schedule_op``) ------------------------------

    async def call(self, op: str, *args: Any) -> bool:
        """Apply one change: ``create(row, max_schedules)``, ``pause|resume|delete(schedule_id, user_id)``;
        a change of a schedule waits for the pass that is firing it, if any."""
        # each runs in a thread (the store never holds the Scheduler's loop), one create at a time
        # (its count and its insert are one step) and one change of a schedule at a time
        if op == "create":
            async with self._creating:
                done = await self.state.watch.call(self.create, *args)
        else:
            ops: dict[str, Callable[..., bool]] = {"pause": self.pause, "resume": self.resume, "delete": self.delete}
            async with self._lock(args[0]):
                done = await self.state.watch.call(ops[op], *args)
        self.wake()
        return done

    def create(self, row: dict[str, Any], max_schedules: int | None = None) -> bool:
        """Store a new schedule; ``QuotaExceeded`` when its user already holds ``max_schedules``
        that can still fire, or its tenant's users together hold its ``max_schedules`` limit
        (counted here, between passes, so two creates cannot both pass)."""
        tenant = tenant_of(row["user_id"])
        tenant_max = self.tenants.limits(tenant).get("max_schedules") if tenant is not None else None
        if (max_schedules is None and tenant_max is None) or get_schedule(
                self.engine, row["id"], instance=self.instance) is not None:
            insert_schedule(self.engine, {**row, "instance": self.instance})
            return True
        if max_schedules is not None:
            held = live_schedules(self.engine, row["user_id"], instance=self.instance)
            if held >= max_schedules:
                raise QuotaExceeded(
                    f"schedules: you hold {held} active or paused schedules, the most one user may "
                    f"(VIDEOAI_USER_MAX_SCHEDULES={max_schedules}); delete one first",
                    limit="VIDEOAI_USER_MAX_SCHEDULES", maximum=max_schedules)
        if tenant is not None and tenant_max is not None:
            held = live_schedules(self.engine, None, instance=self.instance, owner_prefix=owner_prefix(tenant))
            if held >= tenant_max:
                raise QuotaExceeded(
                    f"schedules: tenant {tenant}'s users hold {held} active or paused schedules, the most its "
                    f"max_schedules limit allows ({tenant_max}); delete one first",
                    limit="tenant.max_schedules", maximum=int(tenant_max))
        insert_schedule(self.engine, {**row, "instance": self.instance})
        return True

    def pause(self, schedule_id: str, user_id: str) -> bool:
        row = get_schedule(self.engine, schedule_id, user_id, instance=self.instance)
        if row is not None and row["state"] == "active":
            change_schedule(self.engine, schedule_id, user_id, instance=self.instance, state="paused")
        return row is not None

    def resume(self, schedule_id: str, user_id: str) -> bool:
        """Ticks that fell while paused do not run; a one-time schedule whose time passed while
        paused follows its misfire policy."""
        row = get_schedule(self.engine, schedule_id, user_id, instance=self.instance)
        if row is not None and row["state"] == "paused":
            nxt = row["at"] if row["cron"] is None else next(
                cron_ticks(row["cron"], zone(row["timezone"]), utcnow()), None)
            change_schedule(self.engine, schedule_id, user_id, instance=self.instance,
                            state="active" if nxt else "done", next_run_at=nxt)
        return row is not None

    def delete(self, schedule_id: str, user_id: str) -> bool:
        return delete_schedule(self.engine, schedule_id, user_id, instance=self.instance)


__all__ = ["ScheduleRunner"]
