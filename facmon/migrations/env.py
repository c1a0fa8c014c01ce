"""Alembic's environment: run the revisions on the connection `facmon.schema` hands over
(it holds the migration lock there), or on the configured URL for a bare `alembic` call."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import facmon.schema  # noqa: F401  (imports every room's tables onto Base)
from storage.sql import Base, make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it: autogenerate writes batch operations there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run `facmon db upgrade`")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass a connection or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as made:
            _run(made)
    finally:
        engine.dispose()


# Alembic executes this file with its context set up; an import for any other reason (the
# doctest collector, a linter) must not try to migrate.
if hasattr(context, "config"):
    run_migrations()
