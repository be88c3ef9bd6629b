"""Bearer token forms: anything but an HS256 token signed with the deployment's secret, from its
issuer, with a subject and an expiry, answers 401 in the one error shape. Requests without a valid
token are rate-limited per client address, and a valid token from that address keeps working."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import jwt
import pytest
from served_api import Api, error_of, unique

from videoai_ray.api import ApiContext, create_app, create_token
from videoai_ray.api.ratelimit import MemoryRateLimiter


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _forms(api: Api) -> dict[str, str]:
    secret = api.settings.jwt_secret.get_secret_value()
    now = int(time.time())
    good = {"sub": "mallory", "iss": api.settings.jwt_issuer, "iat": now, "exp": now + 600}

    def hs(claims: dict[str, object], key: str = secret, alg: str = "HS256") -> str:
        return jwt.encode(claims, key, algorithm=alg)

    header, _, signature = hs(good).split(".")
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "alg None, no dot": f"{_b64({'alg': 'None'})}.{_b64(good)}",
        "HS512 with the secret": hs(good, alg="HS512"),
        "wrong secret": hs(good, key="another-secret-of-32-bytes-at-least!"),
        "expired": hs({**good, "exp": now - 60}),
        "no exp": hs({k: v for k, v in good.items() if k != "exp"}),
        "no sub": hs({k: v for k, v in good.items() if k != "sub"}),
        "empty sub": hs({**good, "sub": ""}),
        "sub not a string": hs({**good, "sub": 12345}),
        "sub too long": hs({**good, "sub": "x" * 500}),
        "wrong issuer": hs({**good, "iss": "someone-else"}),
        "no issuer": hs({k: v for k, v in good.items() if k != "iss"}),
        "not before in the future": hs({**good, "nbf": now + 3600}),
        "tampered payload": f"{header}.{_b64({**good, 'sub': 'admin'})}.{signature}",
        "garbage": "not.a.token",
        "empty segments": "..",
        "huge": "a" * 8000,
    }


def test_every_bad_form_answers_401(api: Api) -> None:
    for name, token in _forms(api).items():
        r = api.client(token=token).get("/tasks")
        assert r.status_code == 401, (name, r.text)
        assert error_of(r)["code"] in ("invalid_token", "token_expired"), name
        assert r.headers.get("www-authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwdw==", "Token abc", "bearer"])
def test_malformed_authorization_headers(api: Api, header: str) -> None:
    r = httpx.get(f"{api.info.api_url}/tasks", headers={"Authorization": header} if header else {}, timeout=10)
    assert r.status_code == 401 and error_of(r)["code"] == "unauthorized"


def test_bad_tokens_are_rate_limited_per_address(api: Api) -> None:
    from videoai_ray.scheduler import get_or_create_scheduler

    settings = api.settings.model_copy(update={"auth_failures_per_minute": 3})
    ctx = ApiContext.start(settings, get_or_create_scheduler(api.settings), MemoryRateLimiter())
    app = create_app(ctx)
    good = {"Authorization": f"Bearer {create_token(api.settings, unique('ok'))}"}

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 4000)),
                                     base_url="http://t/api/v1/media") as c:
            out = [await c.get("/tasks", headers={"Authorization": f"Bearer bad{i}"}) for i in range(5)]
            out.append(await c.get("/tasks", headers=good))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.8", 4000)),
                                     base_url="http://t/api/v1/media") as other:
            out.append(await other.get("/tasks", headers={"Authorization": "Bearer bad"}))
        return out

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429, 200, 401]
    assert error_of(responses[3])["code"] == "rate_limited" and int(responses[3].headers["retry-after"]) >= 1
