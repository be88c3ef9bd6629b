"""The pipeline runner: lives in the Scheduler and advances a pipeline whenever one of its step
tasks reaches a terminal state.

``advance`` reads the pipeline and its step tasks from the store (state is never kept only in
memory) and then: fails the pipeline if a step failed or was cancelled (cancelling the steps
still waiting or running), completes it when every step completed, or submits the steps whose
inputs are now ready. A step's task id follows from the pipeline id and the step id and is
submitted with ``known_ids``, so advancing twice (after a restart of the Scheduler, say) never
submits a step twice. At start, the runner advances every unfinished pipeline again and cancels
the step tasks of pipelines that ended while they were still running.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .. import fault_points
from ..artifacts import ArtifactStore, public_output
from ..errors import InvalidTransition, PipelineNotFound, VideoAIError
from ..models import EventType, Task, TaskStatus
from ..models.events import pipeline_event_payload
from ..store import utcnow
from . import rows
from .model import PipelineStatus, build_record, step_task_id
from .resolve import resolve_input
from .spec import PipelineSpec, PipelineStep

if TYPE_CHECKING:
    from ..models.record import Active
    from ..scheduler.operations import Operations
    from ..scheduler.persistence import Writer
    from ..scheduler.state import SchedulerState
    from ..scheduler.submit import Intake

log = logging.getLogger("videoai.pipelines")

#: seconds before a pipeline whose advance failed (the store was unreachable, say) is tried again
RETRY_SECONDS = 1.0
_EVENTS = {PipelineStatus.COMPLETED: EventType.PIPELINE_COMPLETED, PipelineStatus.FAILED: EventType.PIPELINE_FAILED,
           PipelineStatus.CANCELLED: EventType.PIPELINE_CANCELLED}


class PipelineRunner:
    """Advances pipelines from inside the Scheduler: a part of it that submits steps through its
    ``Intake``, cancels through its ``Operations`` and reads what its ``Writer`` committed."""

    def __init__(self, state: SchedulerState, intake: Intake, operations: Operations, writer: Writer) -> None:
        from ..service import MediaService

        self.state, self.intake, self.operations, self.writer = state, intake, operations, writer
        self.engine = state.store.engine
        self.artifacts = ArtifactStore(state.settings.artifacts_root)
        # validation of resolved step inputs, exactly as for any submission
        self.media = MediaService(state.settings, None, state.store)
        self.dirty: set[str] = set()
        self._wake: asyncio.Event | None = None

    # -- the Scheduler's hook ------------------------------------------------------------------

    def task_finished(self, act: Active) -> None:
        """A task reached a terminal state; if it is a pipeline's step, advance that pipeline."""
        pipeline_id = act.options.get("pipeline")
        if pipeline_id:
            self.mark(pipeline_id)

    def mark(self, pipeline_id: str) -> None:
        self.dirty.add(pipeline_id)
        if self._wake is not None:
            self._wake.set()

    async def loop(self) -> None:
        """Recover, then advance marked pipelines once their tasks' changes are committed."""
        self._wake = asyncio.Event()
        try:
            await self.recover()
        except Exception:
            log.error("pipeline recovery failed; retrying", exc_info=True)
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self._retry_recover)
        while True:
            await self._wake.wait()
            self._wake.clear()
            # advance reads the step tasks from the store: a step answered from the cache is
            # marked inside its chunk's submit, whose insert must be committed first
            await self.intake.idle()
            await self.writer.written()
            while self.dirty:
                pipeline_id = self.dirty.pop()
                try:
                    await self.advance(pipeline_id)
                except Exception:
                    log.error("advancing pipeline %s failed; retrying", pipeline_id, exc_info=True)
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, self.mark, pipeline_id)

    def _retry_recover(self) -> None:
        asyncio.get_running_loop().create_task(self._recover_once())

    async def _recover_once(self) -> None:
        try:
            await self.recover()
        except Exception:
            log.error("pipeline recovery failed; retrying", exc_info=True)
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self._retry_recover)

    async def recover(self) -> None:
        """At start: cancel the live step tasks of pipelines that already ended, and advance every
        unfinished pipeline (its steps may have ended, or not been submitted, while we were down)."""
        owners: dict[str, list[str]] = {}
        for act in list(self.state.active.values()):
            if act.options.get("pipeline"):
                owners.setdefault(act.options["pipeline"], []).append(act.id)
        ended = [p for p, s in rows.statuses(self.engine, list(owners)).items() if s != PipelineStatus.RUNNING.value]
        stale = [tid for p in ended for tid in owners[p]]
        if stale:
            self.operations.cancel(stale)
        running = rows.running_ids(self.engine)
        if running:
            log.info("advancing %d unfinished pipelines", len(running))
        for pipeline_id in running:
            self.mark(pipeline_id)

    # -- operations ----------------------------------------------------------------------------

    async def create(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a validated pipeline (or find the one its idempotency key made) and start it."""
        key = row.get("idempotency_key")
        if key:
            found = rows.find_idempotent(self.engine, row["user_id"], key)
            if found is not None:
                _same_spec(key, found[1], row.get("request_hash"))
                return {"id": found[0], "existing": True}
        # Ray re-sends this call to a restarted Scheduler: the row may be stored already
        if rows.get_pipeline(self.engine, row["id"]) is None:
            rows.insert_pipeline(self.engine, row)
        await self.advance(row["id"])
        return {"id": row["id"], "existing": False}

    async def cancel(self, pipeline_id: str, user_id: str | None) -> None:
        """Cancel a running pipeline and every step still waiting or running."""
        row = rows.get_pipeline(self.engine, pipeline_id, user_id)
        if row is None:
            raise PipelineNotFound(f"no pipeline {pipeline_id}")
        if row["status"] != PipelineStatus.RUNNING.value:
            raise InvalidTransition(f"pipeline {pipeline_id} is already {row['status']}")
        await self._end(row, self._tasks(row), PipelineStatus.CANCELLED, None)

    async def advance(self, pipeline_id: str) -> None:
        row = rows.get_pipeline(self.engine, pipeline_id)
        if row is None or row["status"] != PipelineStatus.RUNNING.value:
            return
        spec = PipelineSpec.model_validate(row["spec"])
        tasks = self._tasks(row)
        by_step = {s.id: tasks.get(step_task_id(pipeline_id, s.id)) for s in spec.steps}
        for step in spec.steps:
            t = by_step[step.id]
            if t is not None and t.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                err = t.error
                error = {"step": step.id, "code": err.code if err else f"step_{t.status.value}",
                         "message": err.message if err else f"step {step.id} was {t.status.value}"}
                await self._end(row, tasks, PipelineStatus.FAILED, error)
                return
        if all(t is not None and t.status is TaskStatus.COMPLETED for t in by_step.values()):
            await self._end(row, tasks, PipelineStatus.COMPLETED, None)
            return
        items = []
        for step in spec.steps:
            if by_step[step.id] is not None or not all(
                    (d := by_step[n]) is not None and d.status is TaskStatus.COMPLETED for n in step.needs()):
                continue
            done = {n: by_step[n] for n in step.needs()}
            try:
                items.append(await asyncio.to_thread(self._prepare, row, spec, step, done))  # type: ignore[arg-type]
            except VideoAIError as e:
                await self._end(row, tasks, PipelineStatus.FAILED,
                                {"step": step.id, "code": e.code, "message": str(e)})
                return
        if items:
            await fault_points.pause(self.state.settings, "pipeline_advance", pipeline_id)
            try:
                answers = await self.intake.submit(items, False, True)
            except VideoAIError as e:  # refused for good (not a store outage): the pipeline fails
                failed = {"step": ", ".join(it["options"]["step"] for it in items), "code": e.code,
                          "message": str(e)}
                await self._end(row, tasks, PipelineStatus.FAILED, failed)
                return
            if any(a["existing"] or a["status"] != "pending" for a in answers):
                self.mark(pipeline_id)  # answered from the cache, or already there: look again

    # -- helpers -------------------------------------------------------------------------------

    def _tasks(self, row: dict[str, Any]) -> dict[str, Task]:
        spec = PipelineSpec.model_validate(row["spec"])
        ids = [step_task_id(row["id"], s.id) for s in spec.steps]
        return {t.id: t for t in self.state.store.get_many(ids)}

    def _prepare(self, row: dict[str, Any], spec: PipelineSpec, step: PipelineStep,
                 done: dict[str, Task]) -> dict[str, Any]:
        """The submission of ``step``: its resolved input validated as any task body is."""
        body = resolve_input(step, done, row["user_id"], self.artifacts)
        prepared = self.media.prepare(step.task_type, body, user_id=row["user_id"],
                                      priority=(step.priority or spec.priority).value,
                                      prefix=f"steps.{step.id}.input.")
        prepared["id"] = step_task_id(row["id"], step.id)
        prepared["options"] = {**prepared["options"], "pipeline": row["id"], "step": step.id}
        prepared["metadata"] = {**(row["meta"] or {}), **prepared["metadata"],
                                "pipeline_id": row["id"], "pipeline_step": step.id}
        return prepared

    async def _end(self, row: dict[str, Any], tasks: dict[str, Task], status: PipelineStatus,
                   error: dict[str, Any] | None) -> None:
        """Write the pipeline's end and its event (one transaction), then cancel what still runs."""
        events = []
        if row["webhook_url"]:
            from ..webhooks.outbox import WebhookEvent

            record = build_record({**row, "status": status.value}, tasks,
                                  lambda out, tid: public_output(out, tid, self.artifacts))
            payload = pipeline_event_payload(
                _EVENTS[status], pipeline_id=row["id"], status=status.value, user_id=row["user_id"],
                timestamp=utcnow(), error=error, metadata=row["meta"],
                steps={s.id: {"task_id": s.task_id, "status": s.status, "output": s.output} for s in record.steps})
            events.append(WebhookEvent(task_id=row["id"], user_id=row["user_id"], url=row["webhook_url"],
                                       event_type=_EVENTS[status], payload=payload))
        from ..webhooks.outbox import outbox_rows

        if not rows.finish_pipeline(self.engine, row["id"], status, error, outbox_rows(events, utcnow())):
            return
        self.state.events.committed(events)
        self.writer.committed()  # whoever waits on this pipeline reads it now, not at its next poll
        live = [tid for tid, t in tasks.items() if not t.done]
        # a step submitted since ``tasks`` was read is live too
        live += [tid for tid, act in self.state.active.items()
                 if act.options.get("pipeline") == row["id"] and tid not in live]
        if live:
            self.operations.cancel(live)
        await self.writer.flush()
        log.info("pipeline %s %s%s", row["id"], status.value, f" at step {error['step']}" if error else "")


def _same_spec(key: str, first: str | None, now: str | None) -> None:
    from ..errors import IdempotencyConflict

    if first is not None and now is not None and first != now:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different pipeline; "
                                  "use a new key for a new pipeline", field="Idempotency-Key")


__all__ = ["PipelineRunner"]
