"""The ledger on both real backends: a SQLite file and a schema of its own on the machine's
PostgreSQL, each with the product's whole schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.ledger import ContractorCreate, LedgerStore
from tests.databases import BACKENDS, fresh_engine

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database with the service's schema, on each backend in turn."""
    with fresh_engine(request.param, tmp_path, "ledger") as made:
        yield made


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
