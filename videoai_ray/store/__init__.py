"""Persistent task store (SQLAlchemy + Alembic)."""

from .store import StoreTimeouts, TaskStore, make_engine, row_to_task, utcnow

__all__ = ["StoreTimeouts", "TaskStore", "make_engine", "row_to_task", "utcnow"]
