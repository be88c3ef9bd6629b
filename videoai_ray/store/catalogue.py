"""The model catalogue's rows (one set per deployment instance)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select

from ..clock import utcnow
from .schema import model_catalogue as cat


def save_model(engine: Engine, instance: str, row: dict[str, Any], *, replace: bool) -> bool:
    """Store an entry; ``False`` when the name is taken and ``replace`` is not set."""
    where = and_(cat.c.instance == instance, cat.c.name == row["name"])
    with engine.begin() as conn:
        if conn.execute(select(cat.c.name).where(where)).first() is not None:
            if not replace:
                return False
            conn.execute(delete(cat).where(where))
        conn.execute(insert(cat).values(instance=instance, registered_at=utcnow(), **row))
    return True


def delete_model(engine: Engine, instance: str, name: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(delete(cat).where(and_(cat.c.instance == instance, cat.c.name == name))).rowcount)


def load_models(engine: Engine, instance: str) -> list[dict[str, Any]]:
    """Every entry of ``instance``, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(cat).where(cat.c.instance == instance).order_by(cat.c.name)).mappings().all()
    return [{k: v for k, v in r.items() if k != "instance"} for r in rows]


__all__ = ["delete_model", "load_models", "save_model"]
