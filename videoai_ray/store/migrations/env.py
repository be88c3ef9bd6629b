"""Alembic environment: runs on a connection handed over by ``videoai db upgrade`` (or the store),
or, from ``alembic upgrade head`` at the repo root, on the URL from the package settings."""

from __future__ import annotations

from alembic import context

from videoai_ray.store.schema import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from videoai_ray.settings import Settings
    from videoai_ray.store.store import make_engine

    url = config.get_main_option("sqlalchemy.url") or Settings().db_url
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
