"""JWT bearer tokens (HS256): ``sub`` is the user id, ``iss`` the deployment, ``exp`` required.

``create_token`` is what ``videoai token create --user NAME`` calls. A token may carry ``rpm``,
a per-minute request limit for that user (a plan or tier) that overrides the deployment's
``rate_limit_per_minute``, and ``admin: true`` (experiments on other users' traffic); only the
holder of the secret can issue one, so it is safe to trust.
Likewise ``weight`` (the user's share of turns against other users at the same priority) and
``max_in_flight`` (their cap on attempts running at once): see docs/fairness.md.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TypeGuard

import jwt
from cachetools import TLRUCache

from ..scheduler.queue import MAX_WEIGHT, MIN_WEIGHT
from ..settings import Settings
from .errors import ApiError

ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="videoai"'}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, from a verified token."""

    user_id: str
    #: per-minute limit from the token's ``rpm`` claim; ``None`` means the deployment default
    rate_limit: int | None = None
    #: the token's ``tenant`` claim: users of one tenant may share cached results (``cache_scope``)
    tenant: str | None = None
    #: the token's ``admin`` claim: may start experiments on other users' traffic
    admin: bool = False
    #: the token's ``weight`` claim (fair sharing); ``None``: the deployment's setting for the user
    weight: float | None = None
    #: the token's ``max_in_flight`` claim (fair sharing); ``None``: the deployment's setting
    max_in_flight: int | None = None

    @property
    def share(self) -> dict[str, float | int] | None:
        """The fair-share claims, as the Scheduler reads them from a task's options."""
        if self.weight is None and self.max_in_flight is None:
            return None
        return {"weight": self.weight, "max_in_flight": self.max_in_flight}  # type: ignore[dict-item]


def create_token(settings: Settings, user: str, ttl_seconds: int = 3600, *, rate_limit: int | None = None,
                 tenant: str | None = None, admin: bool = False, weight: float | None = None,
                 max_in_flight: int | None = None) -> str:
    """A signed token for ``user``, valid for ``ttl_seconds``."""
    if not user or len(user) > 200:
        raise ValueError("user must be 1..200 characters")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "iss": settings.jwt_issuer, "iat": now, "exp": now + ttl_seconds,
                                 "jti": uuid.uuid4().hex}
    if rate_limit is not None:
        if rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per minute")
        claims["rpm"] = int(rate_limit)
    if tenant is not None:
        if not tenant or len(tenant) > 200:
            raise ValueError("tenant must be 1..200 characters")
        claims["tenant"] = tenant
    if admin:
        claims["admin"] = True
    if weight is not None:
        if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight must be from {MIN_WEIGHT} to {MAX_WEIGHT:g}")
        claims["weight"] = float(weight)
    if max_in_flight is not None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        claims["max_in_flight"] = int(max_in_flight)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=_CHALLENGE)


class TokenCache:
    """Tokens already verified, until they expire: a client sends the same token with every
    request, and checking its signature again each time costs more than the rest of the auth.
    A ``cachetools.TLRUCache``: each entry lives until its token's ``exp``, the least recently
    used goes first past ``size``."""

    def __init__(self, settings: Settings, size: int = 10_000) -> None:
        self.settings = settings
        self._seen: TLRUCache[str, tuple[Caller, float]] = TLRUCache(
            maxsize=size, ttu=lambda _token, hit, _now: hit[1], timer=time.time)

    def caller(self, authorization: str | None) -> Caller:
        """The caller of a request's ``Authorization`` header (401 ``ApiError`` if not valid)."""
        token = bearer_token(authorization)
        hit = self._seen.get(token)
        if hit is None:
            hit = self._seen[token] = _verify(self.settings, token)
        return hit[0]


def verify_token(settings: Settings, token: str) -> Caller:
    """The caller behind ``token``; ``ApiError`` 401 when it is invalid, expired or foreign."""
    return _verify(settings, token)[0]


def _verify(settings: Settings, token: str) -> tuple[Caller, float]:
    try:
        claims = jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=[ALGORITHM],
                            issuer=settings.jwt_issuer, options={"require": ["exp", "sub", "iss"]},
                            leeway=5)
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "the bearer token has expired") from None
    except jwt.InvalidTokenError as e:
        raise unauthorized("invalid_token", f"invalid bearer token: {e}") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise unauthorized("invalid_token", "invalid bearer token: sub must be a non-empty string")
    if len(sub) > 200:
        raise unauthorized("invalid_token", "invalid bearer token: sub is longer than 200 characters")
    rpm = claims.get("rpm")
    tenant = claims.get("tenant")
    weight = claims.get("weight")
    cap = claims.get("max_in_flight")
    return Caller(sub, _positive_int(rpm), tenant if isinstance(tenant, str) and 0 < len(tenant) <= 200 else None,
                  admin=claims.get("admin") is True,
                  weight=float(weight) if _number(weight) and MIN_WEIGHT <= weight <= MAX_WEIGHT else None,
                  max_in_flight=_positive_int(cap)), float(claims["exp"])


def _number(v: object) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _positive_int(v: object) -> int | None:
    """A claim that must be a positive integer (anything else: as if absent)."""
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>`` (401 ``ApiError`` when malformed)."""
    if not authorization:
        raise unauthorized("unauthorized", "missing bearer token (Authorization: Bearer <token>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("unauthorized", "the Authorization header must be 'Bearer <token>'")
    return token.strip()
