"""The whole SQL schema, assembled from the tables every room declares, and brought to the
newest revision of its migrations (`facmon/migrations/`).

Only the shell knows every room, so the schema is put together here and the storage
layer below never imports the rooms above it.
"""

from __future__ import annotations

import fcntl
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

import ingest.device_registry
import quality.accounts
import quality.delivery.notify.models
import quality.inspections.models
import quality.ledger.models
import quality.maintenance.models
import quality.photos.models
import quality.reports.models
import quality.tickets.models
import quality.tickets.outbox
import quality.users.models
import storage.dead_letters
import storage.detector_state
from facmon.migrations import RELEASE_TABLES, alembic_config
from storage.sql import Base

TABLE_MODULES = (
    quality.tickets.models,
    quality.tickets.outbox,
    quality.accounts,
    storage.dead_letters,
    storage.detector_state,
    ingest.device_registry,
    quality.ledger.models,
    quality.maintenance.models,
    quality.photos.models,
    quality.inspections.models,
    quality.delivery.notify.models,
    quality.users.models,
    quality.reports.models,
)

# pg_advisory_xact_lock key that every facmon process migrating a PostgreSQL database takes
# ("facmon" in ASCII); database-wide, so schemas of one database migrate one at a time.
log = logging.getLogger(__name__)

PG_LOCK_KEY: Final = 0x66_61_63_6D_6F_6E
VERSION_TABLE: Final = "alembic_version"


def create_schema(engine: Engine) -> None:
    """Create or migrate every table of the product (idempotent, safe when processes race)."""
    upgrade_schema(engine)


def upgrade_schema(engine: Engine) -> str:
    """Bring the database to the newest revision and return it.

    - An empty database gets `create_all` and is stamped `head` (Alembic's pattern for a new
      database: one round of DDL instead of every revision, for the many test databases).
    - A database made before migrations (the release's tables, no `alembic_version`) runs
      from the baseline `0001`, which creates only what that database lacks, then on.
    - Any other database runs the revisions it has not had (`upgrade head`).

    Processes starting together take turns: on PostgreSQL through a transaction-level
    advisory lock (`pg_advisory_xact_lock`, fixed key) on the migration connection, which the
    commit or a dropped connection releases, so no pooled connection keeps it after an
    error; everything, stamp included, is one transaction. On SQLite through an exclusive
    `flock` on `<database>.migrate-lock` next to the file: SQLite's own write lock cannot be
    held across the driver's DDL (pysqlite commits around it), and a file lock blocks only
    other migrating processes, never the readers and writers already running.
    """
    with _migration_lock(engine) as connection:
        tables = set(inspect(connection).get_table_names())
        if VERSION_TABLE not in tables and not tables & RELEASE_TABLES:
            _enable_trigrams(connection)
            Base.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(_scripts(), "head")
        elif not _at_head(connection):
            before = current_revision(connection) or "none (made before migrations)"
            command.upgrade(alembic_config(connection), "head")
            log.info("database schema upgraded from %s to %s", before, head_revision())
        return current_revision(connection) or ""


def _enable_trigrams(connection: Connection) -> None:
    """On PostgreSQL, pg_trgm for the ticket search's index, as revision 0005 creates it.

    A server without the extension, or a role that may not create it, still gets every
    table: the index is left out (quality.tickets.models) and search scans."""
    if connection.dialect.name != "postgresql":
        return
    try:
        with connection.begin_nested():
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    except DBAPIError as error:
        log.warning(
            "pg_trgm unavailable (%s): ticket search scans instead of using an index / "
            "无法启用 pg_trgm：工单搜索将不使用索引",
            str(error.orig).strip(),
        )


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before migrations."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision in the package (there is exactly one head)."""
    head = _scripts().get_current_head()
    assert head is not None, "facmon/migrations has no revision"
    return head


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _at_head(connection: Connection) -> bool:
    return set(MigrationContext.configure(connection).get_current_heads()) == set(
        _scripts().get_heads()
    )


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one migrating process holds at a time."""
    if engine.dialect.name == "sqlite":
        with _file_lock(_sqlite_lock_path(engine)), engine.begin() as connection:
            yield connection
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        yield connection


def _sqlite_lock_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None  # private to this process: nobody to race
    return Path(f"{database}.migrate-lock")


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
