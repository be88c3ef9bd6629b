"""The one HTTP layer every cloud adapter uses: an ``httpx.AsyncClient`` bound to a provider, and
the single place where HTTP answers and transport failures become the package's error classes.

Why one module: 429/``Retry-After``, 5xx, auth and moderation rules are the same for every
provider, so they are written once; an adapter only builds requests and reads documented bodies.
Keys travel in headers only and are scrubbed from any text that ends up in an error message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ...backoff import parse_retry_after
from ...errors import (
    AuthenticationFailed,
    ContentRejected,
    InvalidInput,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RetryableError,
)

log = logging.getLogger("videoai.providers.cloud")

#: words a provider puts in a 400/403/422 body when its moderation refused the request
_MODERATION_MARKERS = (
    "content_policy_violation",  # OpenAI (DALL-E), fal
    "moderation_blocked",  # OpenAI (GPT image models)
    "content_moderation",  # Stability AI
    "content_filtered",  # Stability AI finish reason
    "safety system",  # OpenAI message text
    "flagged by",  # Stability AI, RunwayML message text
)
_MAX_DETAIL = 300


def timeout(read: float, *, connect: float = 10.0, write: float = 60.0) -> httpx.Timeout:
    """Timeouts for one provider: a short connect, a read sized to how slow its answers are."""
    return httpx.Timeout(connect=connect, read=read, write=write, pool=connect)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or HTTP-date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, so a key echoed by a provider never leaves here."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _detail(resp: httpx.Response) -> str:
    """The human part of a documented error body (OpenAI, AssemblyAI, RunwayML, Stability, fal)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:_MAX_DETAIL]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # OpenAI: {"error": {"message", "type", "code"}}
            return str(err.get("message") or err.get("code") or "")
        if err:  # AssemblyAI, RunwayML: {"error": "..."}
            return str(err)
        errors = body.get("errors")  # Stability AI: {"name", "errors": [...]}
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors)
        if body.get("detail"):  # fal: {"detail": "..."} or a FastAPI error list
            return json.dumps(body["detail"]) if not isinstance(body["detail"], str) else body["detail"]
    return json.dumps(body)[:_MAX_DETAIL]


def error_for_response(resp: httpx.Response, provider: str, secrets: Iterable[str] = ()) -> ProviderError:
    """Classify a non-2xx answer: 429 → RateLimited, moderation → ContentRejected, 401/403 →
    AuthenticationFailed, 400/413/422 → InvalidInput, 408/504 → ProviderTimeout, 5xx → retryable."""
    status = resp.status_code
    detail = redact(_detail(resp), secrets)[:_MAX_DETAIL]
    message = f"{provider}: HTTP {status}" + (f": {detail}" if detail else "")
    body = resp.text[:20_000].lower()
    wait = retry_after(resp.headers)
    if status == 429:
        if "insufficient_quota" in body:  # OpenAI: out of credit; waiting does not help
            return PermanentError(message)
        return RateLimited(message, retry_after=wait)
    if status in (400, 403, 422) and any(marker in body for marker in _MODERATION_MARKERS):
        return ContentRejected(message)
    if status in (401, 403):
        return AuthenticationFailed(message)
    if status in (400, 413, 415, 422):
        return InvalidInput(message)
    if status in (408, 504, 524):
        return ProviderTimeout(message)
    if status >= 500:
        return RateLimited(message, retry_after=wait) if wait is not None else RetryableError(message)
    return PermanentError(message)


def error_for_exception(exc: httpx.HTTPError, provider: str, what: str) -> ProviderError:
    """Classify a failure that produced no answer: timeouts and broken connections are retryable."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{provider}: {what} timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return RetryableError(f"{provider}: {what} failed: {type(exc).__name__}")
    return PermanentError(f"{provider}: {what} failed: {type(exc).__name__}")


def json_body(resp: httpx.Response, provider: str) -> dict[str, Any]:
    """The JSON object of a successful answer; anything else is a (retryable) provider fault."""
    try:
        body = resp.json()
    except ValueError as e:
        raise RetryableError(f"{provider}: answer is not JSON (HTTP {resp.status_code})") from e
    if not isinstance(body, dict):
        raise RetryableError(f"{provider}: answer is not a JSON object")
    return body


class ApiClient:
    """An ``httpx.AsyncClient`` for one provider: base URL, auth headers and timeouts fixed, and
    every failure raised as a classified ``ProviderError`` (never with a key in it)."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: httpx.Timeout,
        secrets: Iterable[str] = (),
    ) -> None:
        self.provider = provider
        self._secrets = tuple(s for s in secrets if s)
        self._client = httpx.AsyncClient(base_url=base_url, headers=dict(headers), timeout=timeout)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a failure without an answer is raised as a ProviderError."""
        try:
            return await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as e:
            raise error_for_exception(e, self.provider, f"{method} {httpx.URL(url).path or url}") from None

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a 2xx answer is returned, anything else raised as a ProviderError."""
        resp = await self._send(method, url, **kwargs)
        if resp.is_success:
            return resp
        raise error_for_response(resp, self.provider, self._secrets)

    async def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """``request`` and return the answer's JSON object."""
        return json_body(await self.request(method, url, **kwargs), self.provider)

    async def request_or_none(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """``request``, except that a 404 answers ``None`` (a remote job that no longer exists)."""
        resp = await self._send(method, url, **kwargs)
        if resp.status_code == 404:
            return None
        if not resp.is_success:
            raise error_for_response(resp, self.provider, self._secrets)
        return resp

    async def json_or_none(self, method: str, url: str, **kwargs: Any) -> dict[str, Any] | None:
        """``json``, except that a 404 answers ``None``."""
        resp = await self.request_or_none(method, url, **kwargs)
        return None if resp is None else json_body(resp, self.provider)


async def download(url: str, dest: Path, *, provider: str, max_bytes: int, read_timeout: float = 120.0) -> Path:
    """Stream a provider's output URL to ``dest`` without any credentials (the URL is a signed CDN
    link, and a key must never be sent to a host other than the API's)."""
    what = "downloading the output"
    try:
        async with (
            httpx.AsyncClient(timeout=timeout(read_timeout), follow_redirects=True) as client,
            client.stream("GET", url) as resp,
        ):
            if not resp.is_success:
                # an expired or missing output link: a new attempt gets a fresh one
                raise RetryableError(f"{provider}: {what}: HTTP {resp.status_code}")
            size = 0
            with dest.open("wb") as fh:
                async for chunk in resp.aiter_bytes(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PermanentError(f"{provider}: output is over the {max_bytes} byte limit")
                    fh.write(chunk)
    except httpx.HTTPError as e:
        raise error_for_exception(e, provider, what) from None
    return dest
