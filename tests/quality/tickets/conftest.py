"""Ticket stores on both real backends: SQLite files and the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from facmon.schema import create_schema
from storage.sql import make_engine
from tests.conftest import unique
from tests.databases import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A callable giving a fresh engine on one shared, empty database per test."""
    engines: list[Engine] = []
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickets.sqlite'}"

        def factory() -> Engine:
            engine = make_engine(url)
            engines.append(engine)
            return engine

        create_schema(factory())
        yield factory
    else:
        schema = unique("t").replace("-", "_")
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        def factory() -> Engine:
            engine = create_engine(
                POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
            )
            engines.append(engine)
            return engine

        create_schema(factory())
        yield factory
        for engine in engines:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    for engine in engines:
        engine.dispose()
