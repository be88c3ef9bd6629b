"""What every cloud adapter shares besides HTTP: the key check, the endpoint and the client
factory, remote jobs (recorded before they are waited for, re-attached to after a crash, polled,
cancelled when our task is cancelled), and input/output file plumbing."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, retry_if_result

from ... import fault_points, netguard
from ...errors import AuthenticationFailed, InvalidInput, ProviderError, ProviderTimeout, RateLimited, RetryableError
from ...settings import Settings
from ...tenants.ids import tenant_of
from ...tenants.keys import key_provider_of, keyring_for
from ..base import Provider, ProviderContext
from ..remote_job import RemoteJob
from .http import ApiClient, download, log, timeout

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: consecutive transient failures tolerated while polling before the attempt gives up
MAX_POLL_ERRORS = 3
#: how long a remote cancel call may take before we stop waiting for it
CANCEL_TIMEOUT = 10.0


class JobFailed(Exception):
    """Raised by a poll check when the remote job ended in failure: ``error`` propagates as is
    (a failed job is final, so even a retryable error is not waited out by the poll loop)."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class CloudProvider(Provider):
    """A provider reached over HTTPS with a key from settings; unavailable (never called) without it."""

    #: the ``Settings`` attribute holding the key, and the environment variable users set
    key_setting: ClassVar[str]
    key_env: ClassVar[str]
    default_base_url: ClassVar[str]
    #: the ``Settings`` attribute naming an operator's endpoint for this API (a gateway, a proxy)
    base_url_setting: ClassVar[str | None] = None
    #: read timeout of one HTTP request (the attempt as a whole is bounded by ``timeout``)
    read_timeout: ClassVar[float] = 60.0
    #: seconds between two status requests of a queued job
    default_poll_interval: ClassVar[float] = 5.0

    def __init__(self, settings: Settings, *, base_url: str | None = None, poll_interval: float | None = None) -> None:
        self.settings = settings
        configured = getattr(settings, self.base_url_setting, None) if self.base_url_setting else None
        # the endpoint comes from code or settings (the operator's), never from a request: the
        # URL guard for user-supplied URLs does not apply to it, so a gateway on a private
        # address works
        self.base_url = (base_url or configured or self.default_base_url).rstrip("/")
        self.poll_interval = self.default_poll_interval if poll_interval is None else poll_interval

    def unavailable_reason(self) -> str | None:
        # with a secrets key, tenants may bring their own key: the attempt finds out (``_key``)
        return None if self._key() or self.settings.secrets_key else f"{self.key_env} is not set"

    def _key(self, owner: str = "") -> str:
        """The key for work of ``owner``: its tenant's own key when it set one, else the
        deployment's (unless ``tenant_keys_fallback`` is off: then ``AuthenticationFailed``, a
        permanent failure naming the provider and the tenant, never the key)."""
        tenant = tenant_of(owner) if owner else None
        if tenant is not None:
            provider = key_provider_of(self.key_setting)
            own = keyring_for(self.settings).key(tenant, provider)
            if own:
                return own
            if not self.settings.tenant_keys_fallback:
                raise AuthenticationFailed(f"{self.name}: tenant {tenant} has no {provider} key of its own, and "
                                           "this deployment does not lend its keys (VIDEOAI_TENANT_KEYS_FALLBACK)")
        secret = getattr(self.settings, self.key_setting, None)
        return secret.get_secret_value() if isinstance(secret, SecretStr) else ""

    def auth_headers(self, key: str) -> dict[str, str]:
        """Headers that authenticate a request (Bearer by default)."""
        return {"Authorization": f"Bearer {key}"}

    def client(self, ctx: ProviderContext | None = None, *, owner: str = "", read_timeout: float | None = None,
               headers: dict[str, str] | None = None) -> ApiClient:
        """A fresh client for one attempt (attempts may run on different event loops), with the
        key of the attempt's owner (``ctx.user_id``, or ``owner``): a tenant's own key, per attempt."""
        key = self._key(ctx.user_id if ctx is not None else owner)
        if not key:  # the registry never calls an unavailable provider; a pinned caller might
            raise AuthenticationFailed(f"{self.name}: {self.key_env} is not set")
        return ApiClient(
            self.name,
            self.base_url,
            {**self.auth_headers(key), **(headers or {})},
            timeout=timeout(read_timeout or self.read_timeout),
            secrets=(key,),
        )

    @staticmethod
    def parse(request: Any, model: type[M]) -> M:
        """The request as ``model`` (the executor may hand over a model or its JSON dict)."""
        if isinstance(request, model):
            return request
        try:
            return model.model_validate(request)
        except ValidationError as e:
            raise InvalidInput(f"not a {model.__name__}: {e.errors()[0]['msg']}") from e

    async def open_input(self, ctx: ProviderContext, url: str, max_bytes: int | None = None) -> Path:
        """``ctx.open_input`` off the event loop (it may download)."""
        return await asyncio.to_thread(ctx.open_input, url, max_bytes)

    async def store(self, ctx: ProviderContext, name: str, data: bytes | Path, content_type: str) -> dict[str, Any]:
        """``ctx.store_artifact`` off the event loop (the store may be object storage)."""
        return await asyncio.to_thread(ctx.store_artifact, name, data, content_type)

    def storer(self, ctx: ProviderContext) -> Callable[[str, bytes, str], Awaitable[dict[str, Any]]]:
        """``store`` bound to ``ctx``, for helpers that only need to write files."""

        async def store(name: str, data: bytes, content_type: str) -> dict[str, Any]:
            return await self.store(ctx, name, data, content_type)

        return store

    async def fetch_output(self, ctx: ProviderContext, url: str, name: str, content_type: str) -> dict[str, Any]:
        """Download a provider's output URL and store it as an artifact of this task."""
        dest = ctx.tmpdir / name
        await download(url, dest, provider=self.name, max_bytes=self.settings.max_download_bytes)
        return await self.store(ctx, name, dest, content_type)

    # -- remote jobs --------------------------------------------------------------------------

    async def start_job(
        self,
        ctx: ProviderContext,
        create: Callable[[], Awaitable[tuple[str, dict[str, Any]]]],
        cancel: Callable[[RemoteJob], Awaitable[Any]],
    ) -> tuple[RemoteJob, bool]:
        """The task's remote job and whether it was re-attached: the one an earlier attempt
        recorded, else a new one from ``create`` (``(id, data)``), recorded durably before
        anything else. A job that cannot be recorded, or that the task no longer wants, is
        cancelled. Between the remote side's answer and the commit of the record (one Scheduler
        call) a killed worker still loses the job: the next attempt creates another."""
        if ctx.remote_job is not None:
            ctx.log.info("re-attaching to %s job %s", self.name, ctx.remote_job.id)
            return ctx.remote_job, True
        job_id, data = await create()
        try:
            return await ctx.record_remote_job(job_id, data), False
        except BaseException:
            await _cancel_quietly(lambda: cancel(RemoteJob(self.name, job_id, data)), f"{self.name} job {job_id}")
            raise

    async def cancel_job(self, api: ApiClient, job: RemoteJob) -> None:
        """Cancel ``job`` at the provider (adapters whose API has a cancel call override it)."""

    async def cancel_remote_job(self, job: RemoteJob) -> None:
        async with self.client(owner=job.owner) as api:
            await self.cancel_job(api, job)

    async def poll(
        self,
        ctx: ProviderContext,
        check: Callable[[], Awaitable[T | None]],
        cancel: Callable[[], Awaitable[Any]],
        *,
        what: str,
    ) -> T:
        """Call ``check`` every ``poll_interval`` seconds until it returns a result (or raises
        ``JobFailed`` when the job ended in failure: the task's recorded job is then over).

        Our task cancelled (``ctx.cancelled`` or ``asyncio.CancelledError``) or the attempt past
        ``timeout`` → ``cancel`` is sent so the provider stops (and stops billing), then the
        cancellation / ``ProviderTimeout`` propagates. A few transient poll failures are waited
        out; more fail the attempt but leave the job running and recorded, so the next attempt
        re-attaches to it instead of paying for another. The loop is a tenacity ``AsyncRetrying``
        bounded by the attempt; the task's durable retries stay the Scheduler's.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout or self.settings.task_timeout)
        errors = 0  # consecutive transient failures; a good status read resets it

        async def status() -> T | None:
            nonlocal errors
            if ctx.cancelled:
                raise asyncio.CancelledError(f"task {ctx.task_id} cancelled")
            await fault_points.pause(ctx.settings, "polling", ctx.task_id)
            try:
                result = await check()
            except RetryableError:
                errors += 1
                raise
            errors = 0
            return result

        def transient(exc: BaseException) -> bool:  # JobFailed and anything else end the loop as they are
            return isinstance(exc, RetryableError) and errors <= MAX_POLL_ERRORS

        def interval(state: RetryCallState) -> float:  # a provider's Retry-After stretches the interval
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited) and exc.retry_after:
                return max(self.poll_interval, exc.retry_after)
            return self.poll_interval

        def past_deadline(state: RetryCallState) -> bool:
            return loop.time() + (state.upcoming_sleep or 0.0) > deadline

        async def timed_out(state: RetryCallState) -> T:
            await _cancel_quietly(cancel, what)
            ctx.remote_job_ended()
            raise ProviderTimeout(f"{self.name}: {what} not finished within {self.timeout} s")

        polling = AsyncRetrying(
            retry=retry_if_result(lambda result: result is None) | retry_if_exception(transient),
            wait=interval,
            stop=past_deadline,
            sleep=partial(_sleep_watching, ctx),
            retry_error_callback=timed_out,
        )
        try:
            result: T = await polling(status)
            return result
        except JobFailed as e:
            ctx.remote_job_ended()
            raise e.error from None
        except asyncio.CancelledError:
            await _cancel_quietly(cancel, what)
            ctx.remote_job_ended()
            raise


async def _sleep_watching(ctx: ProviderContext, seconds: float) -> None:
    """Sleep, waking early when the task is cancelled."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not ctx.cancelled and (left := end - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.25))


async def _cancel_quietly(cancel: Callable[[], Awaitable[Any]], what: str) -> None:
    """Best-effort remote cancel: shielded from a second cancellation, bounded in time, logged."""
    try:
        await asyncio.shield(asyncio.wait_for(cancel(), CANCEL_TIMEOUT))
    except (Exception, asyncio.CancelledError) as e:  # the job may already be finished or gone
        log.warning("could not cancel %s: %s", what, e)


async def gather_limited(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``calls`` with at most ``limit`` in flight, in order; the first failure cancels the
    others and propagates as itself (not wrapped in an ExceptionGroup, which would hide its class)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def is_public_url(url: str) -> bool:
    """An http(s) URL a provider's servers could fetch themselves (not local, private or an
    artifact path); DNS is not resolved, so a name that only resolves internally counts as public."""
    if urlparse(url).scheme not in ("http", "https"):
        return False
    try:
        netguard.check_url(url, (), resolve_dns=False)
    except netguard.UnsafeURL:
        return False
    return True


async def media_reference(provider: CloudProvider, ctx: ProviderContext, url: str, max_bytes: int) -> str:
    """``url`` itself when the provider can fetch it (public https), else the file as a data URI."""
    if is_public_url(url) and url.startswith("https://"):
        return url
    path = await provider.open_input(ctx, url, max_bytes)
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise InvalidInput(f"{url} is over the {max_bytes} byte limit of {provider.name}")
    ctype = mimetypes.guess_type(path.name)[0] or _sniff_image(data)
    return f"data:{ctype};base64,{base64.b64encode(data).decode('ascii')}"


def _sniff_image(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"
