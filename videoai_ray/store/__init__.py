"""Persistent task store (SQLAlchemy + Alembic)."""

from .store import TaskStore, make_engine, row_to_task, utcnow

__all__ = ["TaskStore", "make_engine", "row_to_task", "utcnow"]
