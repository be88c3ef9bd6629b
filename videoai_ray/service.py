"""MediaService: the one core every entry point calls (SDK, HTTP API, CLI).

It validates bodies into submissions, sends them to the Scheduler in chunks, and reads tasks and
statistics from the store. Nothing here is specific to HTTP or to notebooks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import ray
from pydantic import ValidationError

from . import netguard
from .errors import BatchNotFound, InvalidRequest, TaskNotFound, VideoAIError
from .models import REQUEST_MODELS, BatchItem, Task, TaskRequest, TaskType
from .models.requests import HTTP_CONTEXT
from .settings import Settings
from .stats import compute_statistics
from .store import TaskStore
from .store.batches import batch_rows, batch_task_id

_WAIT_SLICE = 5.0


def new_task_id() -> str:
    return "task_" + uuid.uuid4().hex


def _field(err: ValidationError, prefix: str = "") -> InvalidRequest:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "body"
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    # a model-level check reports its field at the start of its message ("cues: ...")
    if loc == "body" and ":" in msg.split(" ")[0]:
        loc, msg = msg.split(":", 1)[0], msg.split(":", 1)[1].strip()
    full = f"{prefix}{loc}" if prefix else loc
    errors = [{"field": f"{prefix}{'.'.join(str(p) for p in e['loc'])}", "message": e["msg"]} for e in err.errors()]
    return InvalidRequest(f"{full}: {msg}", field=full, errors=errors)


class MediaService:
    """Submit, read, cancel and retry tasks; list providers; compute statistics."""

    def __init__(self, settings: Settings, scheduler: Any, store: TaskStore | None = None) -> None:
        self.settings = settings
        self.scheduler = scheduler
        self.store = store or TaskStore(settings.db_url, migrate=False)

    # -- validation ----------------------------------------------------------------------------

    def validate(
        self, task_type: TaskType | str, body: Mapping[str, Any] | TaskRequest, prefix: str = "",
        *, http: bool = False,
    ) -> TaskRequest:
        """The body as its task type's model; ``InvalidRequest`` naming the field otherwise.
        ``http``: the body came over HTTP, where input fields take only http(s) URLs."""
        try:
            ttype = TaskType(task_type)
        except ValueError:
            raise InvalidRequest(f"{prefix}task_type: unknown task type {task_type!r}",
                                 field=f"{prefix}task_type") from None
        model = REQUEST_MODELS[ttype]
        if isinstance(body, TaskRequest):
            body = body.model_dump(exclude_unset=True)
        try:
            request = model.model_validate(dict(body), context=HTTP_CONTEXT if http else None)
        except ValidationError as e:
            raise _field(e, prefix) from None
        self._policy_checks(request, prefix)
        return request

    def _policy_checks(self, request: TaskRequest, prefix: str) -> None:
        # fields are looked up on the class: getattr on a pydantic model that lacks the attribute
        # is slow, and this runs for every request
        fields = type(request).model_fields
        name = next((n for n in ("prompt", "text") if n in fields), None)
        prompt = getattr(request, name) if name else None
        if prompt and self.settings.blocklist:
            low = prompt.lower()
            for word in self.settings.blocklist:
                if word.lower() in low:
                    raise InvalidRequest(f"{prefix}{name}: rejected by the content filter",
                                         field=f"{prefix}{name}")
        if request.webhook_url:
            from .webhooks import InvalidWebhookURL, validate_webhook_url

            try:
                validate_webhook_url(request.webhook_url, self.settings)
            except InvalidWebhookURL as e:
                msg = str(e).removeprefix("webhook_url: ")
                raise InvalidRequest(f"{prefix}webhook_url: {msg}", field=f"{prefix}webhook_url") from None
        for field in type(request).input_url_fields:
            url = getattr(request, field)
            if url and url.startswith(("http://", "https://")):
                try:
                    netguard.check_url(url, self.settings.url_allowlist)
                except netguard.UnsafeURL as e:
                    raise InvalidRequest(f"{prefix}{field}: {e}", field=f"{prefix}{field}") from None

    def prepare(self, task_type: TaskType | str, body: Mapping[str, Any] | TaskRequest, *, user_id: str,
                idempotency_key: str | None = None, batch_id: str | None = None,
                priority: str | None = None, prefix: str = "", http: bool = False,
                tenant: str | None = None) -> dict[str, Any]:
        """A validated submission, ready for the Scheduler (its shape: ``models.record``).
        ``tenant`` (from the caller's token) scopes the result cache when ``cache_scope`` is
        ``tenant``."""
        request = self.validate(task_type, body, prefix, http=http)
        media_input, opts = request.split()
        ttype = TaskType(task_type).value
        prio = priority or opts["priority"]
        options = {"provider": opts["provider"], "strategy": opts["strategy"], "use_cache": opts["use_cache"]}
        if tenant:
            options["tenant"] = tenant
        return {
            "id": new_task_id(), "type": ttype, "user_id": user_id,
            "priority": prio, "input": media_input, "options": options,
            "webhook_url": opts["webhook_url"], "webhook_secret": request.webhook_secret,
            "webhook_events": opts["webhook_events"], "metadata": opts["metadata"],
            "idempotency_key": idempotency_key, "batch_id": batch_id, "max_retries": self.settings.max_retries,
            "request_hash": request_fingerprint("batch" if batch_id else "task", ttype, prio, request)
            if idempotency_key else None,
        }

    def prepare_batch(self, items: Iterable[Mapping[str, Any] | BatchItem], *, user_id: str,
                      batch_id: str, http: bool = False, tenant: str | None = None,
                      idempotency_key: str | None = None) -> Iterator[dict[str, Any]]:
        """Validate batch items lazily; errors name the item's index (``[3].input_data.prompt``)."""
        for i, raw in enumerate(items):
            try:
                item = raw if isinstance(raw, BatchItem) else BatchItem.model_validate(raw)
            except ValidationError as e:
                raise _field(e, f"[{i}].") from None
            prepared = self.prepare(item.task_type, item.input_data, user_id=user_id, batch_id=batch_id,
                                    priority=item.priority.value if item.priority else None,
                                    prefix=f"[{i}].input_data.", http=http, tenant=tenant,
                                    idempotency_key=f"{idempotency_key}#{i}" if idempotency_key else None)
            prepared["id"] = batch_task_id(batch_id, i)  # the same when the batch is sent again
            yield prepared

    # -- operations ----------------------------------------------------------------------------

    def submit(self, prepared: list[dict[str, Any]], *, return_tasks: bool = False) -> list[dict[str, Any]]:
        return list(_unwrap(lambda: ray.get(self.scheduler.submit.remote(prepared, return_tasks))))

    def wait(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """The task once it is done, or as it is when ``timeout`` passes (check ``task.done``).
        Sleeps on the Scheduler's change version between reads, so it does not poll the store."""
        deadline = None if timeout is None else time.monotonic() + timeout
        version = int(ray.get(self.scheduler.wait_version.remote(0, 0)))
        while True:
            task = self.get(task_id, user_id)
            sleep = _next_sleep(task, deadline)
            if sleep is None:
                return task
            version = int(ray.get(self.scheduler.wait_version.remote(version, sleep)))

    async def wait_async(self, task_id: str, user_id: str | None, timeout: float | None) -> Task:
        """``wait`` for async code: the event loop keeps running (store reads go to a thread)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        version = int(await self.scheduler.wait_version.remote(0, 0))
        while True:
            task = await asyncio.to_thread(self.get, task_id, user_id)
            sleep = _next_sleep(task, deadline)
            if sleep is None:
                return task
            version = int(await self.scheduler.wait_version.remote(version, sleep))

    def get(self, task_id: str, user_id: str | None = None) -> Task:
        task = self.store.get(task_id, user_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        return task

    def cancel(self, task_id: str, user_id: str | None = None) -> Task:
        [res] = _unwrap(lambda: ray.get(self.scheduler.cancel.remote([task_id], user_id)))
        if res.get("error") == TaskNotFound.code:
            raise TaskNotFound(f"no task {task_id}")
        return self._after_write(task_id)

    def retry(self, task_id: str, user_id: str | None = None) -> Task:
        _unwrap(lambda: ray.get(self.scheduler.retry.remote(task_id, user_id)))
        return self._after_write(task_id)

    def _after_write(self, task_id: str) -> Task:
        """Read a task after the Scheduler changed it (waits for its write to be committed)."""
        ray.get(self.scheduler.flush_now.remote())
        return self.get(task_id)

    def statistics(self, user_id: str | None = None) -> dict[str, Any]:
        live = ray.get(self.scheduler.live_stats.remote())
        return compute_statistics(self.store.aggregate(user_id=user_id), live)

    def providers(self) -> list[dict[str, Any]]:
        return list(ray.get(self.scheduler.providers.remote()))

    # -- batches, budgets, spend -----------------------------------------------------------------

    def batches(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The user's batches, newest first (see ``store.batches.batch_rows``)."""
        return batch_rows(self.store.engine, user_id, limit=limit)

    def batch(self, batch_id: str, user_id: str) -> dict[str, Any]:
        """One of the user's batches; ``BatchNotFound`` for an unknown id or another user's."""
        rows = batch_rows(self.store.engine, user_id, batch_id)
        if not rows:
            raise BatchNotFound(f"no batch {batch_id}")
        return rows[0]

    def budget(self, user_id: str) -> dict[str, Any]:
        """The user's own daily budget, the deployment's cap, the one that applies, today's spend."""
        from .store.budgets import day_start, get_user_budget, spent

        own = get_user_budget(self.store.engine, user_id)
        cap = self.settings.user_daily_budget_usd
        limits = [b for b in (own, cap) if b is not None]
        return {"budget_usd": own, "deployment_cap_usd": cap, "effective_usd": min(limits) if limits else None,
                "spent_today_usd": round(spent(self.store.engine, user_id=user_id, since=day_start()), 6)}

    def set_budget(self, user_id: str, budget_usd: float | None) -> dict[str, Any]:
        """Set the user's own daily budget (``None`` removes it); checked before every attempt."""
        from .batching import check_budget

        check_budget(budget_usd)
        _unwrap(lambda: ray.get(self.scheduler.set_user_budget.remote(user_id, budget_usd)))
        return self.budget(user_id)

    def spend(self, user_id: str, days: int = 30) -> list[dict[str, Any]]:
        """The user's spend per UTC day and provider, newest first."""
        from .store.budgets import spend_rows

        if not 1 <= days <= 366:
            raise InvalidRequest("days: must be from 1 to 366", field="days")
        return spend_rows(self.store.engine, user_id, days)


def request_fingerprint(route: str, task_type: str, priority: str, request: TaskRequest) -> str:
    """What an ``Idempotency-Key`` is bound to: the route kind, the task type and the whole
    validated body (defaults filled in, so ``{"n": 1}`` and ``{}`` are the same request)."""
    doc = [route, task_type, priority, request.model_dump(mode="json")]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _next_sleep(task: Task, deadline: float | None) -> float | None:
    """``None`` when waiting is over (the task is done or time is up), else seconds to sleep."""
    if task.done:
        return None
    remaining = _WAIT_SLICE if deadline is None else deadline - time.monotonic()
    return None if remaining <= 0 else min(_WAIT_SLICE, remaining)


def unwrap_ray_error(exc: BaseException) -> BaseException:
    """A package error raised inside the Scheduler, as itself rather than a ``RayTaskError``."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, VideoAIError):
            return cause
    return exc


def _unwrap(fn: Any) -> Any:
    """Call ``fn``, re-raising a package error from inside the Scheduler as itself."""
    try:
        return fn()
    except ray.exceptions.RayTaskError as e:
        raise unwrap_ray_error(e) from None
