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
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .. import fault_points
from ..admission import Admission
from ..artifacts import ArtifactStore, public_output
from ..backoff import schedule_delay
from ..errors import InvalidReference, InvalidRequest, InvalidTransition, PipelineNotFound, VideoAIError
from ..models import EventType, Task, TaskStatus
from ..models.events import pipeline_event_payload
from ..redact import public_error
from ..scheduler.writes import unreachable
from ..store import utcnow
from . import rows
from .model import PipelineStatus, build_record, step_task_id
from .resolve import resolve_input
from .spec import PipelineSpec, PipelineStep
from .validation import check_step_input

if TYPE_CHECKING:
    from ..models.record import Active
    from ..protocol import Submission
    from ..scheduler.operations import Operations
    from ..scheduler.persistence import Writer
    from ..scheduler.state import SchedulerState
    from ..scheduler.submit import Intake

_T = TypeVar("_T")

log = logging.getLogger("videoai.pipelines")

#: seconds before a pipeline whose advance met an unreachable store is tried again (the last repeats)
RETRY_SCHEDULE = (1.0, 2.0, 5.0, 15.0, 60.0)
#: tries of such a pipeline before the runner leaves it until one of its steps ends or it restarts
MAX_RETRIES = 8
_EVENTS = {PipelineStatus.COMPLETED: EventType.PIPELINE_COMPLETED, PipelineStatus.FAILED: EventType.PIPELINE_FAILED,
           PipelineStatus.CANCELLED: EventType.PIPELINE_CANCELLED}


class PipelineRunner:
    """Advances pipelines from inside the Scheduler: a part of it that submits steps through its
    ``Intake``, cancels through its ``Operations`` and reads what its ``Writer`` committed."""

    def __init__(self, state: SchedulerState, intake: Intake, operations: Operations, writer: Writer) -> None:
        self.state, self.intake, self.operations, self.writer = state, intake, operations, writer
        self.engine = state.store.engine
        self.instance = state.store.instance
        self.artifacts = ArtifactStore.of(state.settings)
        # validation of resolved step inputs, as for any submission (URLs by name only: nothing in
        # the Scheduler waits on DNS; the worker that fetches an input resolves and checks it)
        self.admission = Admission(state.settings, state.store, resolve_dns=False)
        self.dirty: set[str] = set()
        self._wake: asyncio.Event | None = None
        #: pipelines whose advance met an unreachable store, and how many times in a row
        self._tries: dict[str, int] = {}
        self._pending: set[asyncio.Task[None]] = set()

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
        await self._recover_once(1)
        while True:
            await self._wake.wait()
            self._wake.clear()
            # only the pipelines marked by now: their steps' changes were made before the wait
            # below, so it covers them. One marked during the wait (a step that ended while a
            # write was already running) waits for its own turn: read now, its step could still
            # look unfinished, and its mark would be spent with the pipeline left running
            marked, self.dirty = self.dirty, set()
            # advance reads the step tasks from the store: a step answered from the cache is
            # marked inside its chunk's submit, whose insert must be committed first
            await self.intake.idle()
            await self.writer.written()
            for pipeline_id in marked:
                await self._advance_or_fail(pipeline_id)

    async def _recover_once(self, attempt: int) -> None:
        try:
            await self.recover()
        except Exception:
            delay = schedule_delay(RETRY_SCHEDULE, attempt)
            log.error("pipeline recovery failed; trying again in %.0fs", delay, exc_info=True)
            self._later(delay, lambda: self._recover_once(attempt + 1))

    def _later(self, delay: float, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        def start() -> None:
            task = asyncio.get_running_loop().create_task(make())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        asyncio.get_running_loop().call_later(delay, start)

    async def _advance_or_fail(self, pipeline_id: str) -> None:
        """``advance``; a store that cannot be reached is tried again with backoff, a bounded
        number of times; any other fault fails the pipeline (it could never advance)."""
        try:
            await self.advance(pipeline_id)
        except Exception as e:
            if unreachable(e):
                self._retry(pipeline_id)
                return
            log.error("pipeline %s cannot advance; it fails", pipeline_id, exc_info=True)
            try:
                await self._fail_stuck(pipeline_id)
            except Exception as again:
                if unreachable(again):
                    self._retry(pipeline_id)
                else:
                    log.error("pipeline %s could not be marked failed", pipeline_id, exc_info=True)
            return
        self._tries.pop(pipeline_id, None)

    def _retry(self, pipeline_id: str) -> None:
        tries = self._tries[pipeline_id] = self._tries.get(pipeline_id, 0) + 1
        delay = store_retry_delay(tries)
        if delay is None:
            # no loop: it is advanced again when one of its steps ends or the Scheduler starts
            del self._tries[pipeline_id]
            log.error("pipeline %s: the store was unreachable %d times; not retried until one of its steps "
                      "ends or the Scheduler restarts", pipeline_id, tries - 1)
            return
        log.warning("pipeline %s: the store is unreachable; trying again in %.1fs (try %d of %d)",
                    pipeline_id, delay, tries, MAX_RETRIES)
        asyncio.get_running_loop().call_later(delay, self.mark, pipeline_id)

    async def _fail_stuck(self, pipeline_id: str) -> None:
        """End a pipeline that raised an unforeseen fault while advancing: ``invalid_reference`` at
        the steps not yet submitted (the fault itself is only logged)."""
        row, tasks = await self._store(self._read, pipeline_id)
        if row is None or row["status"] != PipelineStatus.RUNNING.value:
            return
        spec = PipelineSpec.model_validate(row["spec"])
        waiting = [s.id for s in spec.steps if step_task_id(pipeline_id, s.id) not in tasks]
        error = {"step": ", ".join(waiting) or spec.steps[-1].id, "code": InvalidReference.code,
                 "message": "the pipeline could not advance: its next steps could not be prepared"}
        try:
            await self._end(row, tasks, PipelineStatus.FAILED, error)
        except Exception as e:
            if unreachable(e):
                raise
            # even its record could not be built (a stored spec that no longer parses): no webhook
            await self._store(rows.finish_pipeline, self.engine, pipeline_id, PipelineStatus.FAILED, error, [])
            self.writer.committed()

    async def recover(self) -> None:
        """At start: cancel the live step tasks of pipelines that already ended, and advance every
        unfinished pipeline (its steps may have ended, or not been submitted, while we were down)."""
        owners: dict[str, list[str]] = {}
        for act in list(self.state.active.values()):
            if act.options.get("pipeline"):
                owners.setdefault(act.options["pipeline"], []).append(act.id)
        statuses = await self._store(rows.statuses, self.engine, list(owners))
        ended = [p for p, s in statuses.items() if s != PipelineStatus.RUNNING.value]
        stale = [tid for p in ended for tid in owners[p]]
        if stale:
            self.operations.cancel(stale)
        running = await self._store(partial(rows.running_ids, self.engine, instance=self.instance))
        if running:
            log.info("advancing %d unfinished pipelines", len(running))
        for pipeline_id in running:
            self.mark(pipeline_id)

    # -- operations ----------------------------------------------------------------------------

    async def create(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a validated pipeline (or find the one its idempotency key made) and start it."""
        found = await self._store(self._store_new, row)
        if found is not None:
            return {"id": found, "existing": True}
        await self._advance_or_fail(row["id"])  # stored: whatever happens now, it ends or is retried
        return {"id": row["id"], "existing": False}

    async def cancel(self, pipeline_id: str, user_id: str | None) -> None:
        """Cancel a running pipeline and every step still waiting or running."""
        row, tasks = await self._store(self._read, pipeline_id, user_id)
        if row is None:
            raise PipelineNotFound(f"no pipeline {pipeline_id}")
        if row["status"] != PipelineStatus.RUNNING.value:
            raise InvalidTransition(f"pipeline {pipeline_id} is already {row['status']}")
        await self._end(row, tasks, PipelineStatus.CANCELLED, None)

    async def advance(self, pipeline_id: str) -> None:
        row, tasks = await self._store(self._read, pipeline_id)
        if row is None or row["status"] != PipelineStatus.RUNNING.value:
            return
        spec = PipelineSpec.model_validate(row["spec"])
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
            except Exception as e:
                if unreachable(e):
                    raise
                await self._end(row, tasks, PipelineStatus.FAILED, step_error(step, e))
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

    async def _store(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)``, a store call, in a thread (``StoreWatch.call``): the Scheduler's loop never
        waits on the store, however slow it is."""
        return await self.state.watch.call(fn, *args)

    def _read(self, pipeline_id: str, user_id: str | None = None) -> tuple[dict[str, Any] | None, dict[str, Task]]:
        """A pipeline's row (of ``user_id``, when given) and its step tasks (in a thread)."""
        row = rows.get_pipeline(self.engine, pipeline_id, user_id, instance=self.instance)
        if row is None:
            return None, {}
        spec = PipelineSpec.model_validate(row["spec"])
        ids = [step_task_id(row["id"], s.id) for s in spec.steps]
        return row, {t.id: t for t in self.state.store.get_many(ids)}

    def _store_new(self, row: dict[str, Any]) -> str | None:
        """Store a new pipeline (in a thread); the id of the one its idempotency key made, if any."""
        key = row.get("idempotency_key")
        if key:
            found = rows.find_idempotent(self.engine, row["user_id"], key, instance=self.instance)
            if found is not None:
                _same_spec(key, found[1], row.get("request_hash"))
                return str(found[0])
        # Ray re-sends this call to a restarted Scheduler: the row may be stored already
        if rows.get_pipeline(self.engine, row["id"], instance=self.instance) is None:
            rows.insert_pipeline(self.engine, row, instance=self.instance)
        return None

    def _prepare(self, row: dict[str, Any], spec: PipelineSpec, step: PipelineStep,
                 done: dict[str, Task]) -> Submission:
        """The submission of ``step``: its resolved input checked under the rules of the door the
        pipeline came through, as if the user had written it, with the claims of their token."""
        context = row.get("context") or {"http": True}  # stored before 0012_pipeline_claims: the strict rules
        prefix = f"steps.{step.id}.input."
        resolved = resolve_input(step, done, row["user_id"], self.artifacts)
        try:
            if context.get("http"):  # files handed over are uploads, which only the runner may name
                check_step_input(self.admission, step.task_type, resolved.body, prefix, resolved.handed, http=True)
            prepared = self.admission.prepare(step.task_type, resolved.body, user_id=row["user_id"],
                                              priority=(step.priority or spec.priority).value, prefix=prefix,
                                              tenant=context.get("tenant"), share=context.get("share"))
        except InvalidRequest as e:
            field = (e.field or "").removeprefix(prefix).split(".", 1)[0]
            ref = resolved.refs.get(field)
            if ref is None or e.field is None:
                raise
            raise InvalidReference(step.id, ref.text, field, e.message.removeprefix(f"{e.field}: ")) from None
        prepared["id"] = step_task_id(row["id"], step.id)
        prepared["options"] = {**prepared["options"], "pipeline": row["id"], "step": step.id}
        prepared["metadata"] = {**(row["meta"] or {}), **prepared["metadata"],
                                "pipeline_id": row["id"], "pipeline_step": step.id}
        return prepared

    async def _end(self, row: dict[str, Any], tasks: dict[str, Task], status: PipelineStatus,
                   error: dict[str, Any] | None) -> None:
        """Write the pipeline's end and its event (one transaction), then cancel what still runs."""
        error = public_error(error)
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

        outbox = outbox_rows(events, utcnow(), self.instance)
        if not await self._store(rows.finish_pipeline, self.engine, row["id"], status, error, outbox):
            return
        self.state.events.committed(events)
        live = [tid for tid, t in tasks.items() if not t.done]
        # a step submitted since ``tasks`` was read is live too
        live += [tid for tid, act in self.state.active.items()
                 if act.options.get("pipeline") == row["id"] and tid not in live]
        if live:
            self.operations.cancel(live)
        await self.writer.flush()
        # whoever waits on this pipeline reads it now, not at its next poll, and only once the
        # cancellations of its live steps are written too: an ended pipeline shows no step running
        self.writer.committed()
        log.info("pipeline %s %s%s", row["id"], status.value, f" at step {error['step']}" if error else "")


def store_retry_delay(tries: int) -> float | None:
    """Seconds before try ``tries`` (1-based) of a pipeline whose advance met an unreachable
    store: growing, with jitter; ``None`` once ``MAX_RETRIES`` were spent."""
    return schedule_delay(RETRY_SCHEDULE, tries) if tries <= MAX_RETRIES else None


def step_error(step: PipelineStep, e: Exception) -> dict[str, Any]:
    """The pipeline's error when ``step`` could not be prepared: the refusal's own code, or
    ``invalid_reference`` naming the step's references for an unforeseen fault (logged here)."""
    if isinstance(e, InvalidReference):
        return {"step": step.id, "code": e.code, "message": e.message, "reference": e.reference}
    if isinstance(e, VideoAIError):
        return {"step": step.id, "code": e.code, "message": str(e)}
    log.error("pipeline step %s could not be prepared", step.id, exc_info=e)
    refs = ", ".join(r.text for _, r in step.refs()) or "none"
    return {"step": step.id, "code": InvalidReference.code,
            "message": f"step {step.id!r} could not be prepared from its references ({refs})"}


def _same_spec(key: str, first: str | None, now: str | None) -> None:
    from ..errors import IdempotencyConflict

    if first is not None and now is not None and first != now:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different pipeline; "
                                  "use a new key for a new pipeline", field="Idempotency-Key")


__all__ = ["PipelineRunner", "step_error", "store_retry_delay"]
