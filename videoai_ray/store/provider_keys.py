"""The ``tenant_provider_keys`` rows of one instance: a tenant's cloud provider keys, stored as
ciphertext only (``tenants.keys`` encrypts and decrypts; these functions never see a key in clear).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .schema import tenant_provider_keys as keys
from .store import utcnow


def put_provider_key(engine: Engine, tenant: str, provider: str, ciphertext: str, *, instance: str) -> None:
    """Store (or replace) the tenant's key for ``provider``."""
    now = utcnow()
    where = (keys.c.instance == instance, keys.c.tenant == tenant, keys.c.provider == provider)
    for _ in range(2):  # a concurrent first PUT may insert between our update and insert: update then
        try:
            with engine.begin() as conn:
                changed = conn.execute(update(keys).where(*where).values(ciphertext=ciphertext,
                                                                         updated_at=now)).rowcount
                if not changed:
                    conn.execute(insert(keys).values(instance=instance, tenant=tenant, provider=provider,
                                                     ciphertext=ciphertext, created_at=now, updated_at=now))
            return
        except IntegrityError:
            continue
    raise RuntimeError("the provider key row kept changing under us")


def delete_provider_key(engine: Engine, tenant: str, provider: str, *, instance: str) -> bool:
    """Remove the tenant's key for ``provider``; whether there was one."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(keys).where(keys.c.instance == instance, keys.c.tenant == tenant,
                                                    keys.c.provider == provider)).rowcount)


def get_provider_key(engine: Engine, tenant: str, provider: str, *, instance: str) -> str | None:
    """The stored ciphertext of the tenant's key for ``provider``, or ``None``."""
    with engine.connect() as conn:
        return conn.execute(select(keys.c.ciphertext).where(
            keys.c.instance == instance, keys.c.tenant == tenant, keys.c.provider == provider)).scalar()


def list_provider_keys(engine: Engine, tenant: str, *, instance: str) -> list[dict[str, Any]]:
    """Which providers the tenant has a key for, with when it was set (never the key)."""
    with engine.connect() as conn:
        rows = conn.execute(select(keys.c.provider, keys.c.created_at, keys.c.updated_at).where(
            keys.c.instance == instance, keys.c.tenant == tenant).order_by(keys.c.provider)).all()
    return [{"provider": r.provider, "created_at": r.created_at, "updated_at": r.updated_at} for r in rows]


__all__ = ["delete_provider_key", "get_provider_key", "list_provider_keys", "put_provider_key"]
