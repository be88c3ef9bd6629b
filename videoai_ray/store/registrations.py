"""Providers registered at runtime, kept in the store (not in Ray): a Scheduler started on a new
Ray, after the old one died with its driver, reloads them before it recovers any task."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, delete, insert, select

from .schema import provider_registrations as regs
from .store import utcnow

if TYPE_CHECKING:
    from ..providers.base import Provider

log = logging.getLogger("videoai.providers")


def class_ref(provider: Provider) -> str:
    cls = type(provider)
    return f"{cls.__module__}:{cls.__qualname__}"


def save_registration(engine: Engine, instance: str, provider: Provider) -> int:
    """Store (or replace) a provider; returns its registration version."""
    from ray import cloudpickle

    blob = cloudpickle.dumps(provider)
    where = and_(regs.c.instance == instance, regs.c.name == provider.name)
    with engine.begin() as conn:
        old = conn.execute(select(regs.c.version).where(where)).scalar()
        version = int(old or 0) + 1
        conn.execute(delete(regs).where(where))
        conn.execute(insert(regs).values(instance=instance, name=provider.name, class_ref=class_ref(provider),
                                         version=version, blob=blob, registered_at=utcnow()))
    return version


def delete_registration(engine: Engine, instance: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(regs).where(and_(regs.c.instance == instance, regs.c.name == name)))


def load_registrations(engine: Engine, instance: str) -> list[Provider]:
    """The stored providers of ``instance``; one that cannot be rebuilt here (its class is not
    importable in this process) is skipped with a warning, and its tasks wait for a new
    registration (``provider_grace_seconds``)."""
    from ray import cloudpickle

    out: list[Provider] = []
    with engine.connect() as conn:
        rows = conn.execute(select(regs).where(regs.c.instance == instance).order_by(regs.c.name)).all()
    for row in rows:
        try:
            out.append(cloudpickle.loads(row.blob))
        except Exception:
            log.warning("registered provider %s (%s, version %d) could not be loaded; skipped",
                        row.name, row.class_ref, row.version, exc_info=True)
    return out


__all__ = ["class_ref", "delete_registration", "load_registrations", "save_registration"]
