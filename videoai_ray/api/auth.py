"""JWT bearer tokens (HS256): ``sub`` is the user id, ``iss`` the deployment, ``exp`` required.

``create_token`` is what ``videoai token create --user NAME`` calls. A token may carry ``rpm``,
a per-minute request limit for that user (a plan or tier) that overrides the deployment's
``rate_limit_per_minute``, and ``admin: true`` (experiments on other users' traffic); only the
holder of the secret can issue one, so it is safe to trust.
Likewise ``weight`` (the user's share of turns against other users at the same priority) and
``max_in_flight`` (their cap on attempts running at once): see docs/fairness.md.

A token with a ``tenant`` claim is a user of that tenant (docs/tenants.md): its caller's
``user_id`` is the owner id ``<tenant>/<sub>``, so all of its work is apart from every other
tenant's; ``tenant_admin: true`` lets it read all of its tenant's tasks. Such a token never
carries the deployment-wide ``admin`` or ``operator`` powers (they are ignored on it). Whether
the tenant exists and is active is checked per request by the door (``deps.authorized``), not
here: a token outlives a suspension.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TypeGuard

import jwt
from cachetools import TLRUCache

from ..errors import InvalidRequest
from ..scheduler.queue import MAX_WEIGHT, MIN_WEIGHT
from ..settings import Settings
from ..tenants.ids import SEPARATOR, check_tenant_user, owner_id, owner_prefix, valid_tenant_id
from .errors import ApiError

ALGORITHM = "HS256"
#: the header of every 401
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="videoai"'}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, from a verified token."""

    #: the owner id of the caller's work: the token's ``sub``, or ``<tenant>/<sub>`` for a tenant's user
    user_id: str
    #: per-minute limit from the token's ``rpm`` claim; ``None`` means the deployment default
    rate_limit: int | None = None
    #: the token's ``tenant`` claim (a tenant id, checked at the door): users of one tenant may share
    #: cached results (``cache_scope``), and never see another tenant's work
    tenant: str | None = None
    #: the token's ``admin`` claim: may start experiments on other users' traffic (never on a tenant's token)
    admin: bool = False
    #: the token's ``weight`` claim (fair sharing); ``None``: the deployment's setting for the user
    weight: float | None = None
    #: the token's ``max_in_flight`` claim (fair sharing); ``None``: the deployment's setting
    max_in_flight: int | None = None
    #: the token's ``operator`` claim: runs the deployment's tenants (``/api/v1/admin/tenants``)
    operator: bool = False
    #: the token's ``tenant_admin`` claim: reads the work of every user of its own tenant (tasks,
    #: batches, pipelines, schedules, experiments), and changes only its own
    tenant_admin: bool = False

    @property
    def reads(self) -> tuple[str | None, str | None]:
        """``(user_id, user_prefix)`` of what this caller reads: its own work, or a tenant admin's
        whole tenant (every owner id ``<tenant>/...``). Changes always take ``user_id``."""
        if self.tenant_admin and self.tenant:
            return None, owner_prefix(self.tenant)
        return self.user_id, None

    @property
    def share(self) -> dict[str, float | int] | None:
        """The fair-share claims, as the Scheduler reads them from a task's options."""
        if self.weight is None and self.max_in_flight is None:
            return None
        return {"weight": self.weight, "max_in_flight": self.max_in_flight}  # type: ignore[dict-item]


def create_token(settings: Settings, user: str, ttl_seconds: int = 3600, *, rate_limit: int | None = None,
                 tenant: str | None = None, admin: bool = False, weight: float | None = None,
                 max_in_flight: int | None = None, operator: bool = False, tenant_admin: bool = False) -> str:
    """A signed token for ``user``, valid for ``ttl_seconds``. ``tenant`` is not looked up here
    (``videoai token create`` does that); its form is checked, as is ``user``'s within it."""
    if not user or len(user) > 200:
        raise ValueError("user must be 1..200 characters")
    _check_roles(user, tenant, admin=admin, operator=operator, tenant_admin=tenant_admin)
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
        claims["tenant"] = tenant
    if admin:
        claims["admin"] = True
    if operator:
        claims["operator"] = True
    if tenant_admin:
        claims["tenant_admin"] = True
    if weight is not None:
        if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight must be from {MIN_WEIGHT} to {MAX_WEIGHT:g}")
        claims["weight"] = float(weight)
    if max_in_flight is not None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        claims["max_in_flight"] = int(max_in_flight)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def _check_roles(user: str, tenant: str | None, *, admin: bool, operator: bool, tenant_admin: bool) -> None:
    """What a token may combine: a tenant's user has a valid tenant id and a short name without
    the separator, and no deployment-wide role; a user without a tenant has no separator in its
    name (it would pass for a tenant's user) and is no tenant admin."""
    if tenant is None:
        if SEPARATOR in user:
            raise ValueError(f"user: {SEPARATOR!r} is kept for tenants' users (use tenant=)")
        if tenant_admin:
            raise ValueError("tenant_admin needs a tenant")
        return
    if not valid_tenant_id(tenant):
        raise ValueError("tenant: 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit")
    try:
        check_tenant_user(user)
    except InvalidRequest as e:
        raise ValueError(e.message) from None
    if admin or operator:
        raise ValueError("a tenant's token cannot be admin or operator (tenant_admin is its tenant's admin)")


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=CHALLENGE)


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
    if tenant is not None:
        # a malformed tenant claim is refused, never read as "no tenant" (the token would pass
        # for the plain user of the same name)
        if not valid_tenant_id(tenant):
            raise unauthorized("invalid_token", "invalid bearer token: tenant is not a valid tenant id")
        try:
            check_tenant_user(sub)
        except InvalidRequest as e:
            raise unauthorized("invalid_token", f"invalid bearer token: {e.message}") from None
    elif SEPARATOR in sub:
        raise unauthorized("invalid_token", f"invalid bearer token: a sub without a tenant has no {SEPARATOR!r}")
    plain = tenant is None
    return Caller(owner_id(tenant, sub), _positive_int(rpm), tenant,
                  admin=plain and claims.get("admin") is True,
                  weight=float(weight) if _number(weight) and MIN_WEIGHT <= weight <= MAX_WEIGHT else None,
                  max_in_flight=_positive_int(cap), operator=plain and claims.get("operator") is True,
                  tenant_admin=not plain and claims.get("tenant_admin") is True), float(claims["exp"])


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
