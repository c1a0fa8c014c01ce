"""A report's stores on both real backends, filled with the KPI tests' hand-worked morning
(`tests/quality/kpi/scenario.py`: site hq, 2024-05-01 08:00-12:00 UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quality.kpi.sources import SQLiteSignals
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.databases import BACKENDS, fresh_engine
from tests.quality.kpi import scenario

AS_OF = datetime(2024, 5, 1, 12, tzinfo=UTC)
ECHARTS = Path(__file__).resolve().parents[3] / "api" / "static" / "vendor" / "echarts.min.js"


@pytest.fixture(params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """(engine, series path): the scenario's ledger, tickets and telemetry."""
    with fresh_engine(request.param, tmp_path, "rep") as engine:
        scenario.make_ledger(engine)
        scenario.make_tickets(engine)
        series = SQLiteSeriesStore(tmp_path / "series.sqlite")
        series.write(scenario.series_points())
        series.close()
        yield engine, tmp_path / "series.sqlite"


def signals(path: Path) -> SQLiteSignals:
    return SQLiteSignals(path)
