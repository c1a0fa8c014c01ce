"""KPI stores on both real backends: a SQLite file and the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.databases import BACKENDS, fresh_engine


@pytest.fixture(params=BACKENDS)
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database with the service's schema, on each backend in turn."""
    with fresh_engine(request.param, tmp_path, "kpi") as made:
        yield made
