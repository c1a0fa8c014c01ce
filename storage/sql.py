"""The relational store's engine and declarative base, for tickets, accounts, dead letters
and the device registry (each room declares its own tables on `Base`; `facmon.schema`
assembles them and migrates them with Alembic). SQLite by default (a file under the data
directory), PostgreSQL by URL: the same SQLAlchemy models and the same tests run on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
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
