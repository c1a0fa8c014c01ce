"""Replaying a range from a real InfluxDB: the samples ingest stored come back in time
order, every kind merged, only the asked site and range, judged by the contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contract.payload import Sample
from contract.topics import DeviceRef
from facmon.cli import main
from ingest.backtest.influx_source import read_influx
from ingest.backtest.records import BadRow
from ingest.pipeline.points import sample_point
from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique
from tools.servers import InfluxServer

START_MS = 1_798_761_600_000  # 2027-01-01T00:00:00Z


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@pytest.fixture
def stored(influx: InfluxServer) -> tuple[str, str]:
    """A database holding two sites' doors and pumps over ten minutes, door `d1` held
    open from the fourth minute on."""
    database = unique("backtest").replace("-", "_")
    store = InfluxStore(influx.url, database)
    points: list[Point] = []
    for site in ("north", "south"):
        door = DeviceRef(site, "b1", "access", "d1")
        pump = DeviceRef(site, "b1", "pump", "p1")
        for i in range(60):
            ts = START_MS + i * 10_000
            held = max(0, i - 23) * 10.0
            door_metrics: dict[str, Any] = {
                "door_open": held > 0,
                "held_open_s": held,
                "valid_credentials": 1 if i == 24 else 0,
            }
            points.append(sample_point(Sample(door, ts, i, door_metrics)))
            pump_metrics: dict[str, Any] = {"accelerometer1_rms_g": 0.2, "running": True}
            points.append(sample_point(Sample(pump, ts + 5, i, pump_metrics)))
    store.write(points)
    store.close()
    return influx.url, database


def test_a_range_comes_back_in_time_order_for_one_site(stored: tuple[str, str]) -> None:
    url, database = stored
    records = list(
        read_influx(
            url,
            database,
            _at(START_MS + 100_000),
            _at(START_MS + 200_000),
            site="north",
            window_ms=30_000,  # several windows, each merged across kinds
        )
    )
    assert not [r for r in records if isinstance(r, BadRow)]
    samples = [r for r in records if isinstance(r, Sample)]
    assert len(samples) == 20  # [100 s, 200 s): 10 door and 10 pump samples
    assert {s.device.site for s in samples} == {"north"}
    times = [s.ts_ms for s in samples]
    assert times == sorted(times)
    assert times[0] == START_MS + 100_000 and times[-1] == START_MS + 190_005
    door = next(s for s in samples if s.device.kind == "access")
    assert door.metrics == {"door_open": False, "held_open_s": 0.0, "valid_credentials": 0}
    pump = next(s for s in samples if s.device.kind == "pump")
    assert pump.metrics == {"accelerometer1_rms_g": 0.2, "running": True}


def test_backtest_from_influx_opens_the_held_open_ticket(
    stored: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, database = stored
    argv = ["backtest", "--influx", url, "--database", database, "--site", "south"]
    argv += ["--from", "2027-01-01T00:00:00Z", "--to", "2027-01-01T01:00:00Z", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 120
    assert result["devices"] == 2
    assert [(t["site"], t["device_id"], t["fault_type"]) for t in result["tickets"]] == [
        ("south", "d1", "door_held_open")
    ]


def test_influx_without_a_range_is_refused(
    stored: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, database = stored
    assert main(["backtest", "--influx", url, "--database", database]) == 2
    assert "--from and --to" in capsys.readouterr().err
