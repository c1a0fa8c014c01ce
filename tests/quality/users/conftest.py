"""A user store on each real backend (a SQLite file, a PostgreSQL schema of its own), on a
clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.users.store import UserStore
from tests.databases import BACKENDS, fresh_engine

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_engine(request.param, tmp_path, "users") as made:
        yield made


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def users(engine: Engine, clock: ManualClock) -> UserStore:
    return UserStore(engine, clock)
