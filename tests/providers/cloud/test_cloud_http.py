"""The shared HTTP layer: Retry-After parsing, the one error classification every adapter uses,
key redaction, transport failures, and the polling loop's cancel/timeout behaviour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from attempt_context import MakeCtx, run
from fake_answers import BASES, KEYS

from videoai_ray.errors import (
    AuthenticationFailed,
    ContentRejected,
    InvalidInput,
    PermanentError,
    ProviderTimeout,
    RateLimited,
    RetryableError,
)
from videoai_ray.providers.cloud import RunwayVideoProvider
from videoai_ray.providers.cloud.http import ApiClient, error_for_response, retry_after, timeout
from videoai_ray.settings import Settings

URL = "https://api.example.test/v1/thing"


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        json=body if body is not None else {"error": "x"},
        headers=headers,
        request=httpx.Request("POST", URL),
    )


def test_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after": "1.5"}) == 1.5
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (retry_after({"retry-after": format_datetime(later, usegmt=True)}) or 0) <= 30
    past = datetime.now(UTC) - timedelta(seconds=30)
    assert retry_after({"retry-after": format_datetime(past, usegmt=True)}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls"),
    [
        (
            401,
            {"error": {"message": "bad key", "type": "x", "param": None, "code": "invalid_api_key"}},
            {},
            AuthenticationFailed,
        ),
        (403, {"error": "Cannot access uploaded file"}, {}, AuthenticationFailed),
        (400, {"error": "format_text must be a Boolean"}, {}, InvalidInput),
        (422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}, {}, InvalidInput),
        (413, {"errors": ["payload too large"]}, {}, InvalidInput),
        (404, {"error": "not found"}, {}, PermanentError),
        (429, {"error": "Too Many Requests"}, {"Retry-After": "12"}, RateLimited),
        (500, {"error": "boom"}, {}, RetryableError),
        (502, {"error": "bad gateway"}, {}, RetryableError),
        (503, {"error": "overloaded"}, {"Retry-After": "3"}, RateLimited),
        (504, {"error": "gateway timeout"}, {}, ProviderTimeout),
        (
            400,
            {
                "error": {
                    "message": "Your request was rejected as a result of our safety system.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "content_policy_violation",
                }
            },
            {},
            ContentRejected,
        ),
        (
            400,
            {"error": {"message": "blocked", "type": "x", "param": None, "code": "moderation_blocked"}},
            {},
            ContentRejected,
        ),
        (
            403,
            {
                "id": "abc",
                "name": "content_moderation",
                "errors": ["Your request was flagged by our content moderation system."],
            },
            {},
            ContentRejected,
        ),
        (
            429,
            {
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": "insufficient_quota",
                }
            },
            {},
            PermanentError,
        ),
    ],
)
def test_one_classification_for_every_provider(
    status: int, body: Any, headers: dict[str, str], cls: type[Exception]
) -> None:
    err = error_for_response(answer(status, body, headers), "prov")
    assert type(err) is cls
    assert err.message.startswith(f"prov: HTTP {status}")
    if "Retry-After" in headers:
        assert isinstance(err, RateLimited) and err.retry_after == float(headers["Retry-After"])


def test_a_key_echoed_by_a_provider_is_redacted() -> None:
    key = KEYS["OPENAI_API_KEY"]
    resp = answer(
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {key}.",
                "type": "x",
                "param": None,
                "code": "invalid_api_key",
            }
        },
    )
    err = error_for_response(resp, "openai", secrets=[key])
    assert key not in str(err) and "***" in str(err)


def test_transport_failures_are_retryable_and_timeouts_are_timeouts() -> None:
    async def call() -> None:
        async with ApiClient(
            "prov", "https://api.example.test", {"Authorization": "Bearer k"}, timeout=timeout(1.0)
        ) as api:
            await api.request("GET", "/v1/thing")

    with respx.mock() as router:
        route = router.get(URL)
        route.side_effect = httpx.ReadTimeout("slow")
        with pytest.raises(ProviderTimeout):
            run(call())
        route.side_effect = httpx.ConnectError("refused")
        with pytest.raises(RetryableError) as info:
            run(call())
        assert type(info.value) is RetryableError
        route.side_effect = httpx.RemoteProtocolError("eof")
        with pytest.raises(RetryableError):
            run(call())


def test_a_non_json_success_answer_is_a_retryable_fault() -> None:
    async def call() -> dict[str, Any]:
        async with ApiClient("prov", "https://api.example.test", {}, timeout=timeout(1.0)) as api:
            return await api.json("GET", "/v1/thing")

    with respx.mock() as router:
        router.get(URL).respond(200, text="<html>maintenance</html>")
        with pytest.raises(RetryableError, match="not JSON"):
            run(call())


# -- downloads of output URLs and keys in logs --------------------------------------------------


def test_an_output_download_is_bounded_and_a_dead_link_is_retryable(
    cloud_settings: Settings, make_ctx: MakeCtx
) -> None:
    small = cloud_settings.model_copy(update={"max_download_bytes": 2048})
    provider = RunwayVideoProvider(small, base_url=BASES["runway"])
    with respx.mock() as router:
        router.get("https://cdn.provider.test/big.mp4").respond(200, content=b"\x00" * 4096)
        router.get("https://cdn.provider.test/gone.mp4").respond(403, text="AccessDenied")
        with pytest.raises(PermanentError, match="byte limit"):
            run(provider.fetch_output(make_ctx()[0], "https://cdn.provider.test/big.mp4", "v.mp4", "video/mp4"))
        with pytest.raises(RetryableError, match="HTTP 403"):
            run(provider.fetch_output(make_ctx()[0], "https://cdn.provider.test/gone.mp4", "v.mp4", "video/mp4"))


def test_keys_never_reach_the_logs(
    http: respx.MockRouter, cloud_settings: Settings, make_ctx: MakeCtx, caplog: pytest.LogCaptureFixture
) -> None:
    from fake_answers import runway_task

    from videoai_ray.models import VideoGenerationRequest

    caplog.set_level("DEBUG")
    http.post(f"{BASES['runway']}/v1/text_to_video").respond(200, json={"id": runway_task("running")["id"]})
    http.get(url__startswith=f"{BASES['runway']}/v1/tasks/").respond(500, json={"error": KEYS["RUNWAYML_API_SECRET"]})
    http.delete(url__startswith=f"{BASES['runway']}/v1/tasks/").respond(204)
    with pytest.raises(RetryableError) as info:
        run(
            RunwayVideoProvider(cloud_settings, base_url=BASES["runway"], poll_interval=0.01).run(
                VideoGenerationRequest(prompt="p"), make_ctx()[0]
            )
        )
    assert KEYS["RUNWAYML_API_SECRET"] not in str(info.value)
    assert caplog.records and all(key not in caplog.text for key in KEYS.values())
