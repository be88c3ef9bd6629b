"""Run the Alembic migrations programmatically (``videoai db upgrade`` and store start-up)."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; retried briefly when another process migrates at once."""
    cfg = alembic_config()
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest migration's revision (what ``upgrade`` brings a store to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_problem(engine: Engine) -> str | None:
    """Why the store behind ``engine`` cannot serve this version (``None`` when it can): no
    schema at all (an empty or wrong database), or a revision other than the newest."""
    found, head = current(engine), head_revision()
    if found == head:
        return None
    url = engine.url.render_as_string(hide_password=True)
    if found is None:
        return (f"the store {url} has no videoai schema (an empty database: not the one the Scheduler writes, "
                f"or never migrated); run `videoai db upgrade` against it, or point this process at the "
                f"Scheduler's store")
    return f"the store {url} is at schema revision {found}, this version needs {head}: run `videoai db upgrade`"
