"""Authentication, request limits and the one error shape (never a trace, never a bare 500)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from served_api import MAX_BYTES, Api, error_of, noop, unique

from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter
from videoai_ray.api.submit_batcher import SubmitBatcher
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings


def forged(api: Api, **claims: object) -> str:
    now = int(time.time())
    base = {"sub": "mallory", "iss": api.settings.jwt_issuer, "iat": now, "exp": now + 60}
    secret = str(claims.pop("_secret", api.settings.jwt_secret.get_secret_value()))
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(("header", "code"), [
    (None, "unauthorized"),
    ("Basic dXNlcjpwYXNz", "unauthorized"),
    ("Bearer", "unauthorized"),
    ("Bearer not.a.jwt", "invalid_token"),
])
def test_missing_or_malformed_token_is_401(api: Api, header: str | None, code: str) -> None:
    c = api.client()
    r = c.get("/tasks", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert error_of(r)["code"] == code
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("claims", "code"), [
    ({"_secret": "another-secret-of-at-least-32-bytes!!"}, "invalid_token"),
    ({"exp": int(time.time()) - 3600}, "token_expired"),
    ({"iss": "someone-else"}, "invalid_token"),
    ({"sub": ""}, "invalid_token"),
])
def test_bad_expired_or_foreign_token_is_401(api: Api, claims: dict, code: str) -> None:
    r = api.client(token=forged(api, **claims)).post("/images/generate", json=noop())
    assert r.status_code == 401
    assert error_of(r)["code"] == code


def test_token_without_exp_is_refused(api: Api) -> None:
    token = jwt.encode({"sub": "x", "iss": api.settings.jwt_issuer}, api.settings.jwt_secret.get_secret_value(),
                       algorithm="HS256")
    assert api.client(token=token).get("/tasks").status_code == 401


def test_create_token_round_trip(api: Api) -> None:
    from videoai_ray.api import verify_token

    caller = verify_token(api.settings, create_token(api.settings, "carol", 60, rate_limit=7))
    assert (caller.user_id, caller.rate_limit) == ("carol", 7)
    with pytest.raises(ValueError):
        create_token(api.settings, "", 60)


def test_body_over_the_limit_is_413(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.post("/images/generate", json=noop("x" * (MAX_BYTES + 10)))
    assert r.status_code == 413
    err = error_of(r)
    assert err["code"] == "request_too_large" and err["field"] == "body"


def test_streamed_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"prompt": "'
        for _ in range(MAX_BYTES // 1024 + 2):
            yield b"y" * 1024
        yield b'"}'

    r = api.client(unique("u")).post("/images/generate", content=chunks(),
                                     headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert error_of(r)["code"] == "request_too_large"


@pytest.mark.parametrize(("body", "field", "fragment"), [
    (b"{not json", "body", "not valid JSON"),
    (b"", "body", "required"),
    (b"[1, 2]", "body", "JSON object"),
    (b'{"prompt": "x", "colour": "red"}', "colour", "Extra inputs"),
    (b'{"prompt": "x", "size": "2x2"}', "size", ""),
    (b'{"prompt": "x", "n": 11}', "n", ""),
    (b'{"prompt": "x", "priority": "asap"}', "priority", ""),
    (b'{"size": "512x512"}', "prompt", "required"),
    (b'{"prompt": "a forbiddenword here"}', "prompt", "content filter"),
    (b'{"prompt": "x", "webhook_url": "ftp://example.com/hook"}', "webhook_url", ""),
])
def test_invalid_body_is_422_naming_the_field(api: Api, body: bytes, field: str, fragment: str) -> None:
    r = api.client(unique("u")).post("/images/generate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "invalid_request" and err["field"] == field
    assert fragment in err["message"]


def test_other_media_bodies_name_their_fields(api: Api) -> None:
    c = api.client(unique("u"))
    cases = [("/videos/generate", {"prompt": "x", "duration": 0}, "duration"),
             ("/audio/transcribe", {"audio_url": "ftp://host/a.mp3"}, "audio_url"),
             ("/audio/transcribe", {"audio_url": "http://10.0.0.1/a.mp3"}, "audio_url"),
             ("/subtitles/generate", {"text": "x", "timing_mode": "manual"}, "cues"),
             ("/subtitles/generate", {"text": "x", "format": "doc"}, "format")]
    for path, body, field in cases:
        r = c.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert error_of(r)["field"] == field, (path, r.text)


def test_unknown_route_and_method_use_the_error_shape(api: Api) -> None:
    c = api.client(unique("u"))
    r = c.get("/nothing/here")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = c.put("/images/generate", json={})
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_unexpected_errors_are_a_json_500_without_trace(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(home=tmp_path, instance="t-api-500")
    service = MediaService(settings, None)
    ctx = ApiContext(settings, service, MemoryRateLimiter(), SubmitBatcher(service))
    app = create_app(ctx)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    # the media routes run outside FastAPI's routing (FastRoutes): here the batcher has no
    # Scheduler, so submitting fails inside the route
    token = create_token(settings, "u")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level("ERROR", logger="videoai.api"):
        import asyncio

        async def call() -> list[httpx.Response]:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return [await c.get("/boom"), await c.post("/api/v1/media/images/generate", json={"prompt": "x"},
                                                           headers={"Authorization": f"Bearer {token}"})]

        responses = asyncio.run(call())
    for r in responses:
        assert r.status_code == 500
        assert error_of(r) == {"code": "internal_error", "message": "internal server error", "field": None}
        assert "secret internals" not in r.text and "NoneType" not in r.text
    assert any("secret internals" in str(rec.exc_info) for rec in caplog.records)
    assert any("NoneType" in str(rec.exc_info) for rec in caplog.records)


def test_a_store_outage_is_a_json_503_with_retry_after(tmp_path: Path) -> None:
    # a submit refused by a Scheduler without its store, a full disk, and a read that meets an
    # unreachable PostgreSQL (a real driver error): 503, the error shape, and when to come back
    from loopback import free_port
    from sqlalchemy import create_engine

    from videoai_ray.errors import DiskFull, StoreUnavailable

    settings = Settings(home=tmp_path, instance="t-api-503")
    service = MediaService(settings, None)
    app = create_app(ApiContext(settings, service, MemoryRateLimiter(), SubmitBatcher(service)))
    gone = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                         connect_args={"connect_timeout": 2})

    @app.get("/refused")
    async def refused() -> None:
        raise StoreUnavailable("the task store cannot be reached now")

    @app.get("/full")
    async def full() -> None:
        raise DiskFull("the store's disk is full")

    @app.get("/read")
    def read() -> None:
        with gone.connect():
            pass

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    import asyncio

    async def call() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return [await c.get(path) for path in ("/refused", "/full", "/read")]

    refused_r, full_r, read_r = asyncio.run(call())
    for r, code in ((refused_r, "store_unavailable"), (full_r, "disk_full"), (read_r, "store_unavailable")):
        assert r.status_code == 503, r.text
        assert error_of(r)["code"] == code
        assert int(r.headers["retry-after"]) >= 1
    assert "cannot be reached" in error_of(read_r)["message"]
