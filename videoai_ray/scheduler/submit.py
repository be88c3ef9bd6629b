"""Accepting tasks: one chunk in, one SQL transaction, idempotent by task id and by the caller's
idempotency key, answered from the cache when the same input was computed before.

A chunk goes through named steps (``Intake.submit``): replays are told apart from new tasks
(``_Seen``), each new task gets its state and row (``_accept``), the cache answers what it can
(``_answer_from_cache``: a hit finishes its task the one way every task finishes), the chunk is
committed with its webhook events (``_commit``), the rest is queued (``_queue``), and the caller
gets one answer per item (``_describe`` adds the tasks when asked).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .. import metrics
from ..clock import utcnow
from ..errors import IdempotencyConflict
from ..models import EventType, TaskStatus, json_time
from ..models.record import Active, active_from_submission, row_from_submission, task_from_row
from ..protocol import Submission, SubmitAnswer
from ..store.schema import tasks

if TYPE_CHECKING:
    from .outcomes import Outcomes
    from .persistence import Writer
    from .state import SchedulerState

log = logging.getLogger("videoai.scheduler")


@dataclass
class _Chunk:
    """One submitted chunk on its way into the store."""

    now: datetime
    #: ``now`` as a task's JSON writes it
    created_at: str
    answers: list[SubmitAnswer] = field(default_factory=list)
    #: the rows to insert, by task id (new tasks only, in submission order)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: list[Active] = field(default_factory=list)
    #: the answers of the new tasks, by task id
    answer_of: dict[str, SubmitAnswer] = field(default_factory=dict)


class _Seen:
    """Ids and idempotency keys used before: stored ones, and earlier items of the same chunk."""

    def __init__(self, found: dict[str, str], hashes: dict[str, str | None]) -> None:
        self.found = found
        self.hashes = hashes

    def prior(self, item: Submission) -> str | None:
        """The id of the task ``item`` replays, if any; ``IdempotencyConflict`` when its key was
        used with another request."""
        prior = self.found.get(item["id"])
        key = _idem(item)
        if prior is None and key in self.found:
            prior = self.found[key]
            _same_request(item, self.hashes.get(key))
        return prior

    def add(self, item: Submission) -> None:
        self.found[item["id"]] = item["id"]
        key = _idem(item)
        if key:
            self.found[key] = item["id"]
            self.hashes[key] = item.get("request_hash")


class Intake:
    """The Scheduler's ``submit``."""

    def __init__(self, state: SchedulerState, outcomes: Outcomes, writer: Writer) -> None:
        self.state = state
        self.outcomes = outcomes
        self.writer = writer
        #: one chunk at a time: its store reads and its insert run in threads (``StoreWatch.call``)
        self._one_at_a_time = asyncio.Lock()

    async def submit(self, items: list[Submission], return_tasks: bool = False,
                     known_ids: bool = False) -> list[SubmitAnswer]:
        """Accept a chunk of prepared submissions (``Admission.prepare``; see the actor's
        ``submit`` for the answers). Chunks go in one at a time, as they did when this ran on the
        event loop, so a replay check never races another chunk's insert."""
        async with self._one_at_a_time:
            return await self._submit(items, return_tasks, known_ids)

    async def idle(self) -> None:
        """Return once no chunk is on its way into the store (the one running now is committed
        or refused)."""
        async with self._one_at_a_time:
            pass

    async def _submit(self, items: list[Submission], return_tasks: bool, known_ids: bool) -> list[SubmitAnswer]:
        now = utcnow()
        chunk = _Chunk(now, json_time(now))
        seen = await self.state.watch.call(self._seen, items, known_ids)
        for item in items:
            prior = seen.prior(item)
            if prior is not None:
                chunk.answers.append({"id": prior, "status": None, "existing": True, "cache_hit": False})
                continue
            seen.add(item)
            self._accept(chunk, item)
        self._answer_from_cache(chunk)
        for (type_name, owner), n in Counter((a.type.value, a.user_id) for a in chunk.new).items():
            metrics.tasks_submitted(type_name, n, owner)
        await self._commit(chunk)
        self._queue(chunk)
        if return_tasks:
            await self._describe(chunk)
        return chunk.answers

    def _seen(self, items: list[Submission], known_ids: bool) -> _Seen:
        """Ids already stored (a re-sent chunk, or a resumed batch's ``known_ids``) and idempotency
        keys already used, with the fingerprints of the requests those keys were first used with.
        Reads only (it runs in a thread)."""
        s = self.state
        found: dict[str, str] = {}
        hashes: dict[str, str | None] = {}
        if s.resends_possible or known_ids:
            ids = [it["id"] for it in items]
            with s.store.engine.connect() as conn:
                for chunk_start in range(0, len(ids), 900):
                    chunk = ids[chunk_start:chunk_start + 900]
                    for row in conn.execute(select(tasks.c.id).where(tasks.c.id.in_(chunk))):
                        found[row.id] = row.id
        by_user: dict[str, list[str]] = {}
        for it in items:
            if key := it.get("idempotency_key"):
                by_user.setdefault(it["user_id"], []).append(key)
        for user, ks in by_user.items():
            for key, (tid, request_hash) in s.store.find_idempotent_requests(user, ks).items():
                found[f"{user}\x00{key}"] = tid
                hashes[f"{user}\x00{key}"] = request_hash
        return _Seen(found, hashes)

    def _accept(self, chunk: _Chunk, item: Submission) -> None:
        """A new task: its in-flight state, its row and its answer."""
        act = active_from_submission(item)
        chunk.new.append(act)
        chunk.rows[act.id] = row_from_submission(item, chunk.now)
        answer: SubmitAnswer = {"id": act.id, "status": "pending", "existing": False, "cache_hit": False,
                                "created_at": chunk.created_at}
        chunk.answers.append(answer)
        chunk.answer_of[act.id] = answer

    def _answer_from_cache(self, chunk: _Chunk) -> None:
        """Each new task is created; one whose result is cached finishes now, completed, and its
        terminal change goes into its row (one transaction with the rest of the chunk)."""
        s = self.state
        cache = s.cache
        hits = cache.lookup({act.id: cache.key(act) for act in chunk.new if act.options.get("use_cache", True)}) \
            if cache is not None else {}
        for act in chunk.new:
            s.events.emit(act, EventType.CREATED)
            hit = hits.get(act.id)
            if hit is None:
                continue
            act.provider = hit.value.get("provider")
            act.started_at = chunk.now
            self.outcomes.finish(act, TaskStatus.COMPLETED, output=hit.value.get("output"), cost=0.0, cache_hit=True)
            chunk.rows[act.id].update(s.changes.pop(act.id))
            answer = chunk.answer_of[act.id]
            answer["status"], answer["cache_hit"] = "completed", True

    async def _commit(self, chunk: _Chunk) -> None:
        """The chunk's rows and its webhook events, in one transaction."""
        s = self.state
        events, outbox = s.events.take()
        try:
            await s.watch.call(s.store.update_many, [], [(tasks, list(chunk.rows.values())), *outbox])
        except Exception:
            # nothing of this chunk is accepted; other tasks' events wait for the next flush
            s.events.give_back(events, drop={a.id for a in chunk.new})
            raise
        s.events.committed(events)
        self.writer.committed()  # new tasks and cache completions: waiters read them now

    def _queue(self, chunk: _Chunk) -> None:
        s = self.state
        now = time.monotonic()
        for act in chunk.new:
            if act.status is TaskStatus.PENDING:
                s.enqueue(act, now)
        s.kick()

    async def _describe(self, chunk: _Chunk) -> None:
        """Add ``"task"`` (JSON) to the answers of replays and cache hits. Cache hits are
        described from the rows just written; only replays need a read."""
        replayed = [a["id"] for a in chunk.answers if a["existing"]]
        store = self.state.store
        replays = {t.id: t for t in await self.state.watch.call(store.get_many, replayed)} if replayed else {}
        for a in chunk.answers:
            if a["existing"]:
                t = replays.get(a["id"])
            elif a["cache_hit"]:
                t = task_from_row(chunk.rows[a["id"]])
            else:
                continue
            a["task"] = t.model_dump(mode="json") if t else None
            a["status"] = t.status.value if t else a["status"]


def _same_request(item: Submission, first: str | None) -> None:
    """``IdempotencyConflict`` when a key comes back with another request than its first one
    (rows stored before fingerprints existed have none and replay as before)."""
    if first is not None and item.get("request_hash") is not None and first != item["request_hash"]:
        raise IdempotencyConflict(
            f"Idempotency-Key {item['idempotency_key']!r} was already used with a different request "
            "(another route or body); use a new key for a new request", field="Idempotency-Key")


def _idem(item: Submission) -> str:
    key = item.get("idempotency_key")
    return f"{item['user_id']}\x00{key}" if key else ""


__all__ = ["Intake"]
