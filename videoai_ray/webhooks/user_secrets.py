"""Per-user signing secrets: used for deliveries of tasks that carry no ``webhook_secret``.

A tenant may have a **default** secret (set up by its tenant admin, stored under the key
``<tenant>/``, which no user id can be): a user of that tenant without a secret of their own signs
with it, so one receiver of a team verifies every user's deliveries with one secret. A user who
rotates gets a secret of their own, with the tenant's as the previous one for the grace period.

A secret is created on first use (reading it, or the first delivery that needs it), can be read
back by its owner and rotated. After a rotation the previous secret keeps signing, next to the new
one, in the Standard Webhooks header for :data:`ROTATION_GRACE`, so receivers can switch over.
Secrets are stored as they are (HMAC signing needs them) and are never logged.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import aware
from ..tenants.ids import owner_prefix, tenant_of
from .schema import webhook_secrets
from .signing import SECRET_PREFIX

#: how long the secret before a rotation still signs (Standard Webhooks header only)
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class UserSecret:
    """A user's signing secret and, within the grace period, the one before it."""

    secret: str
    previous: str | None
    created_at: datetime
    rotated_at: datetime | None

    def __repr__(self) -> str:  # never show the secret itself
        return f"UserSecret(created_at={self.created_at!r}, rotated_at={self.rotated_at!r})"

    def grace_secrets(self, now: datetime) -> tuple[str, ...]:
        """Secrets that sign alongside :attr:`secret` at ``now``."""
        if self.previous and self.rotated_at and now - aware(self.rotated_at) < ROTATION_GRACE:
            return (self.previous,)
        return ()


def generate_secret() -> str:
    """A new ``whsec_`` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _read(conn: Connection, user_id: str) -> UserSecret | None:
    row = conn.execute(select(webhook_secrets).where(webhook_secrets.c.user_id == user_id)).first()
    if row is None:
        return None
    return UserSecret(row.secret, row.previous_secret, aware(row.created_at),
                      aware(row.rotated_at) if row.rotated_at else None)


def load_user_secret(engine: Engine, user_id: str) -> UserSecret:
    """The secret that signs for the user: their own, else their tenant's default, else a new one
    of their own, created on first use (safe when two processes race)."""
    tenant = tenant_of(user_id)
    with engine.connect() as conn:
        found = _read(conn, user_id)
        if found is None and tenant is not None:
            found = _read(conn, owner_prefix(tenant))
    if found is not None:
        return found
    return _create(engine, user_id)


def _create(engine: Engine, user_id: str, previous: str | None = None) -> UserSecret:
    """The row of ``user_id`` (a user, or a tenant's default key), made now unless it exists."""
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(insert(webhook_secrets).values(
                user_id=user_id, secret=generate_secret(), previous_secret=previous, created_at=now,
                rotated_at=now if previous else None))
    except IntegrityError:
        pass  # another process created it first: read theirs
    with engine.connect() as conn:
        created = _read(conn, user_id)
    assert created is not None
    return created


def get_user_secret(engine: Engine, user_id: str) -> str:
    """The user's current signing secret (``whsec_...``), created on first use."""
    return load_user_secret(engine, user_id).secret


def rotate_user_secret(engine: Engine, user_id: str) -> str:
    """Replace the user's secret with a new one and return it; the old one enters its grace. A
    tenant's user signing with the tenant's default gets a secret of their own, the default as
    the previous one."""
    current = load_user_secret(engine, user_id)
    with engine.connect() as conn:
        own = _read(conn, user_id)
    if own is None:
        return _create(engine, user_id, previous=current.secret).secret
    new = generate_secret()
    with engine.begin() as conn:
        conn.execute(
            update(webhook_secrets)
            .where(webhook_secrets.c.user_id == user_id)
            .values(secret=new, previous_secret=current.secret, rotated_at=datetime.now(UTC))
        )
    return new


def tenant_secret(engine: Engine, tenant: str, *, rotate: bool = False) -> str:
    """The tenant's default secret (``whsec_...``), created on first use; ``rotate``: a new one, the
    old one signing alongside it for the grace period."""
    key = owner_prefix(tenant)
    if rotate:
        return rotate_user_secret(engine, key)
    with engine.connect() as conn:
        found = _read(conn, key)
    return (found or _create(engine, key)).secret


__all__ = [
    "ROTATION_GRACE",
    "UserSecret",
    "generate_secret",
    "get_user_secret",
    "load_user_secret",
    "rotate_user_secret",
    "tenant_secret",
]
