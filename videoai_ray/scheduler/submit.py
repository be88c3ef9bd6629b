"""Accepting tasks: one chunk in, one SQL transaction, idempotent by task id and by the caller's
idempotency key, answered from the cache when the same input was computed before."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .. import metrics
from ..errors import IdempotencyConflict, InvalidRequest
from ..models import REQUEST_MODELS, EventType, Priority, TaskStatus, TaskType, json_time
from ..store import utcnow
from ..store.schema import tasks
from ..store.store import task_from_values
from .state import Active

if TYPE_CHECKING:
    from .actor import Scheduler

log = logging.getLogger("videoai.scheduler")


class SubmitMixin:
    """The Scheduler's ``submit``; split out to keep the actor module about scheduling."""

    async def submit(self: Scheduler, items: list[dict[str, Any]], return_tasks: bool = False,  # type: ignore[misc]
                     known_ids: bool = False) -> list[dict[str, Any]]:
        """Accept a chunk of prepared submissions (see ``service.prepare``).

        Returns, per item, ``{"id", "status", "existing", "cache_hit"}``, with ``"created_at"``
        (JSON) for a new task. With ``return_tasks``, replays and cache hits also carry
        ``"task"`` (JSON); a new pending task does not: the caller has the submission and builds
        it with ``models.submitted_task_json``, which keeps that per-task work off this actor.
        ``known_ids``: the ids may be stored already (a resumed batch, whose dead driver's last
        chunk can land late); stored ones are answered as existing instead of failing the chunk.
        """
        now_dt = utcnow()
        created_at = json_time(now_dt)
        existing, hashes = self._existing(items, known_ids)
        rows: list[dict[str, Any]] = []
        new: list[Active] = []
        answers: list[dict[str, Any]] = []
        keys: dict[str, str] = {}
        for it in items:
            prior = existing.get(it["id"])
            if prior is None and _idem(it) in existing:
                prior = existing[_idem(it)]
                _same_request(it, hashes.get(_idem(it)))
            if prior is not None:
                answers.append({"id": prior, "status": None, "existing": True, "cache_hit": False})
                continue
            ttype = TaskType(it["type"])
            try:
                request = REQUEST_MODELS[ttype].model_validate(it["input"])
            except Exception as e:
                raise InvalidRequest(f"item {it['id']}: {e}", field="input") from e
            act = Active(
                id=it["id"], type=ttype, priority=Priority(it["priority"]), user_id=it["user_id"],
                input=it["input"], request=request, options=it["options"], max_retries=it["max_retries"],
                metadata=it["metadata"], webhook_url=it.get("webhook_url"),
                webhook_events=it.get("webhook_events"), batch_id=it.get("batch_id"),
            )
            existing[it["id"]] = act.id
            if _idem(it):
                existing[_idem(it)] = act.id
                hashes[_idem(it)] = it.get("request_hash")
            new.append(act)
            rows.append(_row(it, now_dt))
            answers.append({"id": act.id, "status": "pending", "existing": False, "cache_hit": False,
                            "created_at": created_at})
            if self.cache is not None and it["options"].get("use_cache", True):
                keys[act.id] = self.cache_key(act)
        hits = self.cache.get_many(list(set(keys.values()))) if keys else {}
        _record_lookups(len(set(keys.values())), hits.values())
        now = time.monotonic()
        by_id = {a["id"]: a for a in answers if not a["existing"]}
        row_by_id = {r["id"]: r for r in rows}
        for act in new:
            hit = hits.get(keys.get(act.id, ""))
            act.status = TaskStatus.PENDING
            self.events.emit(act, EventType.CREATED)
            if hit is not None:
                self.finish_seq += 1
                row = row_by_id[act.id]
                row.update(status="completed", output=hit.value.get("output"), provider=hit.value.get("provider"),
                           progress=1.0, cost=0.0, cache_hit=True, started_at=now_dt, finished_at=now_dt,
                           finish_seq=self.finish_seq)
                act.status = TaskStatus.COMPLETED
                act.progress = 1.0
                self.events.emit(act, EventType.COMPLETED, output=row["output"])
                metrics.task_finished(act.type.value, row["provider"] or "cache", "completed", 0.0)
                by_id[act.id].update(status="completed", cache_hit=True)
        for type_name, n in Counter(a.type.value for a in new).items():
            metrics.tasks_submitted(type_name, n)
        events, outbox = self.events.take()
        try:
            self.store.update_many([], [(tasks, rows), *outbox])
        except Exception:
            # nothing of this chunk is accepted; other tasks' events wait for the next flush
            self.events.give_back(events, drop={a.id for a in new})
            raise
        self.events.committed(events)
        for act in new:
            if act.status is TaskStatus.PENDING:
                self._enqueue(act, now)
        if any(a.get("cache_hit") for a in answers):
            self.flush()  # bump the version so waiters see the cached completions
        self.kick()
        if return_tasks:
            # cache hits are described from the rows just written; only replays need a read
            replayed = [a["id"] for a in answers if a["existing"]]
            replays = {t.id: t for t in self.store.get_many(replayed)} if replayed else {}
            for a in answers:
                if a["existing"]:
                    t = replays.get(a["id"])
                elif a["cache_hit"]:
                    t = task_from_values(row_by_id[a["id"]])
                else:
                    continue
                a["task"] = t.model_dump(mode="json") if t else None
                a["status"] = t.status.value if t else a["status"]
        return answers

    def _existing(self: Scheduler, items: list[dict[str, Any]],  # type: ignore[misc]
                  known_ids: bool = False) -> tuple[dict[str, str], dict[str, str | None]]:
        """Ids already stored (a re-sent chunk, or a resumed batch's ``known_ids``) and idempotency
        keys already used, with the fingerprints of the requests those keys were first used with."""
        found: dict[str, str] = {}
        hashes: dict[str, str | None] = {}
        if self.resends_possible or known_ids:
            ids = [it["id"] for it in items]
            with self.store.engine.connect() as conn:
                for chunk_start in range(0, len(ids), 900):
                    chunk = ids[chunk_start:chunk_start + 900]
                    for row in conn.execute(select(tasks.c.id).where(tasks.c.id.in_(chunk))):
                        found[row.id] = row.id
        by_user: dict[str, list[str]] = {}
        for it in items:
            if it.get("idempotency_key"):
                by_user.setdefault(it["user_id"], []).append(it["idempotency_key"])
        for user, ks in by_user.items():
            for key, (tid, request_hash) in self.store.find_idempotent_requests(user, ks).items():
                found[f"{user}\x00{key}"] = tid
                hashes[f"{user}\x00{key}"] = request_hash
        return found, hashes

    def cache_key(self: Scheduler, act: Active) -> str:  # type: ignore[misc]
        from ..cache import cache_key

        return str(cache_key(act.type, act.input, scope=cache_scope(self.settings.cache_scope, act)))

    def cache_put(self: Scheduler, act: Active, output: dict[str, Any]) -> None:  # type: ignore[misc]
        try:
            self.cache.put(self.cache_key(act), {"output": output, "provider": act.provider})
        except Exception:
            log.warning("cache write failed for %s", act.id, exc_info=True)


def cache_scope(setting: str, act: Active) -> str:
    """Who shares a cached result: the task's user (the default), its tenant (the token's
    ``tenant`` claim; a user without one keeps a scope of their own), or everyone."""
    if setting == "global":
        return ""
    tenant = act.options.get("tenant") if setting == "tenant" else None
    return f"tenant:{tenant}" if tenant else f"user:{act.user_id}"


def _record_lookups(keys: int, hits: Any) -> None:
    per_layer = Counter(h.layer for h in hits)
    for layer, n in per_layer.items():
        metrics.cache_lookup(layer, n, 0)
    if keys:
        metrics.cache_lookup("all", sum(per_layer.values()), keys - sum(per_layer.values()))


def _same_request(item: dict[str, Any], first: str | None) -> None:
    """``IdempotencyConflict`` when a key comes back with another request than its first one
    (rows stored before fingerprints existed have none and replay as before)."""
    if first is not None and item.get("request_hash") is not None and first != item["request_hash"]:
        raise IdempotencyConflict(
            f"Idempotency-Key {item['idempotency_key']!r} was already used with a different request "
            "(another route or body); use a new key for a new request", field="Idempotency-Key")


def _idem(item: dict[str, Any]) -> str:
    key = item.get("idempotency_key")
    return f"{item['user_id']}\x00{key}" if key else ""


def _row(it: dict[str, Any], now: Any) -> dict[str, Any]:
    return {
        "id": it["id"], "type": it["type"], "status": "pending", "priority": it["priority"],
        "user_id": it["user_id"], "input": it["input"], "output": None, "provider": None, "attempts": 0,
        "max_retries": it["max_retries"], "error_code": None, "error_message": None, "error_retryable": None,
        "progress": 0.0, "cost": None, "created_at": now, "started_at": None, "finished_at": None,
        "next_attempt_at": None, "webhook_url": it.get("webhook_url"), "webhook_secret": it.get("webhook_secret"),
        "webhook_events": it.get("webhook_events"), "meta": it["metadata"], "options": it["options"],
        "idempotency_key": it.get("idempotency_key"), "request_hash": it.get("request_hash"),
        "batch_id": it.get("batch_id"), "cache_hit": False, "finish_seq": None,
        # provider A/B experiments (issue 15): the experiment and arm given at intake
        "experiment_id": it.get("experiment_id"), "experiment_arm": it.get("experiment_arm"),
    }
