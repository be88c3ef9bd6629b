"""Whose rows a read returns: one owner's, every owner's whose id starts with a prefix (a tenant
admin reads the work of its tenant's users, owner ids ``<tenant>/...``), or both limits at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement


def owned(column: Any, user_id: str | None, user_prefix: str | None = None) -> list[ColumnElement[bool]]:
    """The where-clauses on an owner ``column`` (none: every owner). ``%`` and ``_`` in the prefix
    are literal."""
    out: list[ColumnElement[bool]] = []
    if user_id is not None:
        out.append(column == user_id)
    if user_prefix is not None:
        out.append(column.startswith(user_prefix, autoescape=True))
    return out


__all__ = ["owned"]
