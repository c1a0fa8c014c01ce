"""The ledger on both real backends: a SQLite file and a schema of its own on the machine's
PostgreSQL, each with the product's whole schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from contract.clock import ManualClock
from facmon.schema import create_schema
from quality.ledger import ContractorCreate, LedgerStore
from storage.sql import make_engine
from tests.conftest import unique

POSTGRES_URL = os.environ.get(
    "FACMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        create_schema(made)
        yield made
        made.dispose()
        return
    schema = unique("ledger").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    made = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(made)
        yield made
    finally:
        made.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(engine: Engine, clock: ManualClock) -> LedgerStore:
    return LedgerStore(engine, clock=clock)


@pytest.fixture
def contractors(store: LedgerStore) -> dict[str, int]:
    """One contractor per kind, by kind."""
    names = {
        "elevator": "申安电梯维保",
        "lighting": "Bright Electrical",
        "pump": "清源水务",
        "access": "Secure Doors",
    }
    return {
        kind: store.create_contractor(ContractorCreate(name=name, kinds=[kind])).id
        for kind, name in names.items()
    }
