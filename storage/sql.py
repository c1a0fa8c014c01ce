"""The relational store's engine and declarative base, for tickets, accounts, dead letters
and the device registry (each room declares its own tables on `Base`; `facmon.schema`
assembles them). SQLite by default (a file under the data directory), PostgreSQL by URL: the
same SQLAlchemy models and the same tests run on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def upsert_insert(engine: Engine, what: str) -> Any:
    """The dialect's `insert` that has `on_conflict_do_update` (PostgreSQL and SQLite both
    have one; a bulk upsert is one statement instead of a read and a write per row)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialects: dict[str, Any] = {"postgresql": postgresql, "sqlite": sqlite}
    dialect = dialects.get(engine.dialect.name)
    if dialect is None:
        raise ValueError(f"{what} needs PostgreSQL or SQLite, not {engine.dialect.name}")
    return dialect.insert


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def create_tables(engine: Engine) -> None:
    """Create every table declared on `Base` so far, and add columns newer than a table.

    Callers import the modules that declare tables first: `facmon.schema.create_schema`.
    """
    try:
        Base.metadata.create_all(engine)
    except DBAPIError:
        # Ingest workers starting together on a new database race to create the tables;
        # the loser finds them made and checks again.
        Base.metadata.create_all(engine)
    _add_missing_columns(engine)


# Nullable columns added to existing tables after their first release: `create_all`
# creates missing tables but never alters one, so a database made by an earlier
# version gets them here.
_ADDED_COLUMNS: Final = (("dead_letters", "replayed_at"),)


def _has_column(engine: Engine, table: str, column: str) -> bool:
    return column in {c["name"] for c in inspect(engine).get_columns(table)}


def _add_missing_columns(engine: Engine) -> None:
    """Idempotent, and safe when several processes start on one database at once."""
    preparer = engine.dialect.identifier_preparer
    for table_name, column_name in _ADDED_COLUMNS:
        if _has_column(engine, table_name, column_name):
            continue
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        if_missing = " IF NOT EXISTS" if engine.dialect.name == "postgresql" else ""
        statement = (
            f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN{if_missing} "
            f"{preparer.format_column(column)} {column.type.compile(dialect=engine.dialect)}"
        )
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        except DBAPIError:
            # SQLite has no IF NOT EXISTS here: another process may have won the race.
            if not _has_column(engine, table_name, column_name):
                raise
