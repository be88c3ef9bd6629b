"""The delivery engine: one asyncio loop that sends due outbox rows with one shared HTTP client.

It is plain asyncio (no Ray), so tests and tools can run it in-process; the Ray actor in
``dispatcher.py`` hosts one. Deliveries of different tasks run concurrently (up to
``concurrency``); a task's own events go one at a time, in order (see ``repo.claim_due``).
Delivery is at least once: a crash between a receiver's answer and the database write re-sends the
event, with the same ``webhook-id``, so receivers de-duplicate on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from ..netguard import AsyncPinnedTransport, refusal, transient
from ..resolver import resolver_for
from ..settings import Settings
from .policy import DeliveryResult, next_state, parse_retry_after, retryable_status
from .repo import Due, claim_due, next_due_at, save_attempt, signing_secrets
from .signing import sign_headers

log = logging.getLogger("videoai.webhooks")

#: redirect hops followed per attempt (each hop is checked like the first URL)
MAX_REDIRECTS = 3
USER_AGENT = "videoai-ray-webhooks/0.1"
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


def _now() -> datetime:
    return datetime.now(UTC)


def redact(url: str) -> str:
    """``url`` without user info (credentials in a webhook URL are secrets too)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def record_delivery_result(due: Due, changes: dict[str, object], result: DeliveryResult) -> None:
    """THE place where the outcome of every attempt is recorded for monitoring: a log line and
    the ``videoai_webhook_*`` metrics."""
    from .. import metrics

    metrics.webhook_delivery(str(changes.get("status") or ("delivered" if result.ok else "error")),
                             result.latency_ms / 1000.0)
    log.log(
        logging.INFO if result.ok else logging.WARNING,
        "webhook %s task=%s event=%s attempt=%s -> %s (status %s, %.0f ms%s)",
        due.id, due.task_id, due.event_type, changes["attempts"], changes.get("status"),
        result.status_code, result.latency_ms, f", {result.error}" if result.error else "",
    )


class DeliveryWorker:
    """Sends due deliveries from the store; :meth:`run` is the dispatcher's main loop."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        concurrency: int = 32,
        poll_interval: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self._rng = rng or random.Random()
        # trust_env=False: a proxy from the environment would reach hosts netguard never saw.
        # The pinned transport checks each hop's addresses and connects to the checked one.
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout, follow_redirects=False, trust_env=False,
            transport=AsyncPinnedTransport(settings.url_allowlist, resolver_for(settings), limits=limits),
        )
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopped = False
        self.sent = 0

    # -- loop ----------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        """Deliver until :meth:`stop`; database errors are logged and retried at the next poll."""
        while not self._stopped:
            self._wake.clear()
            try:
                delay = await self.tick()
            except Exception:
                # The store may be briefly unavailable (restart, lock); the rows wait for us.
                log.exception("webhook dispatcher: looking for due deliveries failed")
                delay = self.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def tick(self) -> float:
        """Start every due delivery there is room for; return seconds until it is worth looking again."""
        room = self.concurrency - len(self._inflight)
        due = await asyncio.to_thread(claim_due, self.engine, _now(), set(self._inflight), room,
                                     instance=self.settings.instance)
        for d in due:
            task = asyncio.create_task(self._deliver(d))
            self._inflight[d.task_id] = task
            task.add_done_callback(functools.partial(self._finished, d.task_id))
        if len(self._inflight) >= self.concurrency:
            return self.poll_interval  # a finishing delivery wakes us
        nxt = await asyncio.to_thread(next_due_at, self.engine, set(self._inflight), instance=self.settings.instance)
        if nxt is None:
            return self.poll_interval
        return min(max((nxt - _now()).total_seconds(), 0.01), self.poll_interval)

    def _finished(self, task_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(task_id, None)
        self._wake.set()

    async def drain(self, timeout: float) -> bool:
        """Deliver until nothing is pending (``True``) or ``timeout`` seconds pass (``False``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._wake.clear()
            delay = await self.tick()
            if not self._inflight and await asyncio.to_thread(
                    next_due_at, self.engine, (), instance=self.settings.instance) is None:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(delay, max(deadline - time.monotonic(), 0)))
        return False

    async def stop(self) -> None:
        """Stop the loop, let deliveries in flight finish, close the client."""
        self._stopped = True
        self._wake.set()
        if self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        await self.client.aclose()

    # -- one delivery --------------------------------------------------------------------------

    async def _deliver(self, due: Due) -> None:
        try:
            secret, extra = await asyncio.to_thread(
                signing_secrets, self.engine, due.task_id, due.user_id, _now())
            result = await self.attempt(due, secret, extra)
        except Exception as e:
            # A bug or a store error must not lose the event: count it as a retryable attempt.
            log.exception("webhook %s: attempt crashed", due.id)
            result = DeliveryResult(False, True, None, f"internal error: {type(e).__name__}", 0.0,
                                   redact(due.url))
        s = self.settings
        changes = next_state(
            attempts=due.attempts, cycle_started_at=due.cycle_started_at, log=due.log, result=result,
            now=_now(), schedule=s.retry_schedule, max_attempts=s.webhook_max_attempts,
            max_age=s.webhook_max_age, rng=self._rng,
        )
        try:
            await asyncio.to_thread(save_attempt, self.engine, due.id, changes)
        except Exception:
            log.exception("webhook %s: saving the attempt failed; it will be sent again", due.id)
            return
        self.sent += 1
        record_delivery_result(due, changes, result)

    async def attempt(self, due: Due, secret: str, extra_secrets: tuple[str, ...] = ()) -> DeliveryResult:
        """POST the delivery once, following up to :data:`MAX_REDIRECTS` redirects by hand (the
        same signed body to every hop, each hop's address checked by netguard first)."""
        url = due.url
        started = time.perf_counter()

        def result(ok: bool, retryable: bool, code: int | None, error: str | None,
                   retry_after: float | None = None) -> DeliveryResult:
            ms = (time.perf_counter() - started) * 1000
            return DeliveryResult(ok, retryable, code, error, ms, redact(url), retry_after)

        for _hop in range(MAX_REDIRECTS + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Webhook-Event": due.event_type,
                **sign_headers(due.id, due.body, secret, _now(), extra_secrets=extra_secrets),
            }
            try:
                async with asyncio.timeout(self.settings.webhook_timeout):
                    request = self.client.build_request(
                        "POST", url, content=due.body.encode(), headers=headers)
                    response = await self.client.send(request, stream=True)
                    await response.aclose()
            except (TimeoutError, httpx.TimeoutException):
                return result(False, True, None, "timeout")
            except httpx.TransportError as e:
                refused = refusal(e)
                if refused is not None:
                    # A name that does not resolve (in time) may resolve later; a private address will not change.
                    return result(False, transient(refused), None, f"refused: {refused}")
                return result(False, True, None, f"{type(e).__name__}: {e}")
            code = response.status_code
            if code in _REDIRECT_CODES and "location" in response.headers:
                # joined to the URL as given (the response's URL holds the pinned address)
                url = str(httpx.URL(url).join(response.headers["location"]))
                continue
            if 200 <= code < 300:
                return result(True, False, code, None)
            retry_after = parse_retry_after(response.headers.get("retry-after"), _now())
            return result(False, retryable_status(code), code, f"HTTP {code}", retry_after)
        return result(False, False, None, f"more than {MAX_REDIRECTS} redirects")


__all__ = ["MAX_REDIRECTS", "USER_AGENT", "DeliveryWorker", "record_delivery_result", "redact"]
