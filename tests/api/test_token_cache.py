"""``TokenCache``: a token's signature is checked once, then its caller is served from memory
until the token expires; the cache is bounded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.api import auth
from videoai_ray.api.auth import TokenCache, create_token
from videoai_ray.api.errors import ApiError
from videoai_ray.settings import Settings


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens ``_verify`` checked, in order."""
    calls: list[str] = []
    real = auth._verify

    def counting(settings: Settings, token: str) -> Any:
        calls.append(token)
        return real(settings, token)

    monkeypatch.setattr(auth, "_verify", counting)
    return calls


def test_a_token_is_verified_once_until_it_expires(tmp_path: Path, verified: list[str]) -> None:
    settings = Settings(home=tmp_path)
    cache = TokenCache(settings)
    token = create_token(settings, "ana", ttl_seconds=1, rate_limit=7, tenant="acme")
    header = f"Bearer {token}"
    first = cache.caller(header)
    assert (first.user_id, first.rate_limit, first.tenant) == ("acme/ana", 7, "acme")
    assert cache.caller(header) is first and verified == [token]
    time.sleep(max(0.0, int(time.time()) + 1.1 - time.time()) + 1.0)  # past its ``exp`` (whole seconds)
    # expired in the cache: checked again (JWT's 5 s leeway still accepts it)
    assert cache.caller(header) == first and verified == [token, token]


def test_invalid_tokens_are_not_cached(tmp_path: Path, verified: list[str]) -> None:
    cache = TokenCache(Settings(home=tmp_path))
    for _ in range(2):
        with pytest.raises(ApiError) as err:
            cache.caller("Bearer not-a-jwt")
        assert err.value.status == 401
    assert verified == ["not-a-jwt", "not-a-jwt"]


def test_the_cache_is_bounded(tmp_path: Path, verified: list[str]) -> None:
    settings = Settings(home=tmp_path)
    cache = TokenCache(settings, size=2)
    tokens = [create_token(settings, f"u{i}") for i in range(3)]
    for t in tokens:
        cache.caller(f"Bearer {t}")
    cache.caller(f"Bearer {tokens[0]}")  # the least recently used went out for the third
    assert verified == [*tokens, tokens[0]]
