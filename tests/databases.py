"""Fresh databases for tests on each real backend: a SQLite file in the test's folder, or a
PostgreSQL schema of its own on the machine's server (created, then dropped), so tests
never share tables and can run in any order.

    @pytest.fixture(params=BACKENDS)
    def engine(request, tmp_path):
        with fresh_engine(request.param, tmp_path) as made:
            yield made
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text

from facmon.schema import create_schema
from facmon.service import Stores
from facmon.settings import Settings
from storage.sql import make_engine
from tests.conftest import unique

POSTGRES_URL = os.environ.get(
    "FACMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A new, empty PostgreSQL schema; yields a database URL whose connections use it."""
    schema = unique(prefix).replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp_path: Path, prefix: str = "t") -> Iterator[str]:
    """The URL of a fresh, empty database on `backend` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'{prefix}.sqlite'}"
        return
    with postgres_schema(prefix) as url:
        yield url


@contextmanager
def fresh_engine(backend: str, tmp_path: Path, prefix: str = "t") -> Iterator[Engine]:
    """An engine on a fresh database with the service's schema."""
    with database_url(backend, tmp_path, prefix) as url:
        engine = make_engine(url)
        try:
            create_schema(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def fresh_stores(
    backend: str, tmp_path: Path, prefix: str = "t", **settings: Any
) -> Iterator[Stores]:
    """The service's stores over a fresh database (other settings as given)."""
    with fresh_settings(backend, tmp_path, prefix, **settings) as chosen:
        stores = Stores.open(chosen)
        try:
            yield stores
        finally:
            stores.close()


@contextmanager
def fresh_settings(
    backend: str, tmp_path: Path, prefix: str = "t", **settings: Any
) -> Iterator[Settings]:
    """Settings naming a fresh database: SQLite under `tmp_path` as the service makes it,
    or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield Settings(_env_file=None, data_dir=tmp_path, **settings)  # type: ignore[call-arg]
        return
    with postgres_schema(prefix) as url:
        yield Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path, database_url=url, **settings
        )
