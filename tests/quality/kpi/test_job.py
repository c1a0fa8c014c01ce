"""The KPI job end to end: tickets made by the real ticket store (SQLite), liveness in a
real InfluxDB, KPIs written back to it; and the readers, scheduler and CLI around it.

The history (2024-03-01, UTC; hourly buckets):

- `pump-1` (plant) online from 09:00. Its bearing ticket T1 (major) opens at
  10:00, is dispatched 10:20, rectified 10:40, verified 11:10, closed 11:20.
- `elevator-1` (tower) online from 09:00, offline 10:30-11:00. Its door
  ticket T2 (minor) opens at 11:30.

Bucket 10:00-11:00: pump observed 3,600 s, good 0 (T1 unresolved all hour);
elevator online and good 1,800 s. Site: 1,800 / 7,200 = 25 %. T1 rectified
on time after 2,400 s; T1 is `rectified`, so open (major) at 11:00.

Bucket 11:00-12:00: pump good 3,000 s (T1 verified at 11:10); elevator good
3,600 s (minor tickets do not count). Site: 6,600 / 7,200 = 91.667 %.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contract.clock import Clock, ManualClock, to_ms
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.cli.kpi import add_kpi_commands
from facmon.schema import create_schema
from quality.kpi import (
    InfluxSignals,
    KpiJob,
    KpiScheduler,
    LagStats,
    ListLiveness,
    LivenessChange,
    SQLiteSignals,
    load_tickets,
    signals_for,
)
from quality.tickets import Role, TicketStore
from storage.dead_letters import DeadLetter
from storage.sql import make_engine
from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.conftest import unique, wait_until
from tools.servers import InfluxServer

PUMP = DeviceRef("hq", "plant", "pump", "pump-1")
ELEVATOR = DeviceRef("hq", "tower", "elevator", "elevator-1")


def at(hh_mm: str) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2024, 3, 1, hours, minutes, tzinfo=UTC)


def status_point(device: DeviceRef, hh_mm: str, online: bool) -> Point:
    tags = {"site": device.site, "building": device.building, "device_id": device.device_id}
    return Point("device_status", {**tags, "kind": device.kind}, {"online": online}, _ms(hh_mm))


def _ms(hh_mm: str) -> int:
    return to_ms(at(hh_mm))


def finding(device: DeviceRef, fault_type: str, severity: Severity) -> Finding:
    return Finding(device, fault_type, severity, "test", "1", 0, f"{fault_type} on {device}")


LIVENESS_POINTS = [
    status_point(PUMP, "09:00", True),
    status_point(ELEVATOR, "09:00", True),
    status_point(ELEVATOR, "10:30", False),
    status_point(ELEVATOR, "11:00", True),
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("10:00"))


@pytest.fixture
def history(engine: Engine, clock: ManualClock) -> TicketStore:
    """The tickets of the module docstring, made through the real ticket store."""
    store = TicketStore(engine, clock=clock, sinks=())
    t1 = store.record(finding(PUMP, "bearing_wear", Severity.MAJOR)).ticket_id
    clock.set(at("10:20"))
    store.assign(t1, "pump-team", "lead", Role.ENGINEER, None)
    clock.set(at("10:40"))
    store.transition(t1, "rectified", "tech", Role.ENGINEER, "new bearing")
    clock.set(at("11:10"))
    store.transition(t1, "verified", "qa", Role.QUALITY, "runs smoothly")
    clock.set(at("11:20"))
    store.transition(t1, "closed", "qa", Role.QUALITY, None)
    clock.set(at("11:30"))
    store.record(finding(ELEVATOR, "door_slowing", Severity.MINOR))
    with Session(engine) as session:
        session.add_all(
            DeadLetter(
                received_at=received,
                topic="facility/v1/bad",
                payload="x",
                payload_encoding="utf-8",
                payload_size=1,
                reason="test",
            )
            for received in (at("10:05"), at("11:59"), at("12:00"))
        )
        session.commit()
    clock.set(at("12:00"))
    return store


@pytest.fixture
def influx_store(influx: InfluxServer) -> Iterator[InfluxStore]:
    store = InfluxStore(influx.url, unique("kpi").replace("-", "_"))
    yield store
    store.close()


def _rows(store: InfluxStore, query: str) -> list[dict[str, Any]]:
    """Every row of every series, as dicts with the series' tags merged in."""
    rows = []
    for series in store.query(query):
        for values in series["values"]:
            rows.append(
                {**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))}
            )
    return rows


SITE_OBSERVED = 'SELECT "observed_s" FROM "kpi" WHERE "scope" = \'site\''


def _job(engine: Engine, store: InfluxStore, clock: ManualClock) -> KpiJob:
    signals = InfluxSignals(store)
    return KpiJob(engine, store, signals, lag=signals, clock=clock)


def test_load_tickets_reads_history_occurrences_and_window(
    engine: Engine, history: TicketStore, clock: ManualClock
) -> None:
    tickets = {
        t.id: t
        for t in load_tickets(engine, at("10:00"), at("12:00"), repeat_window=timedelta(days=30))
    }
    assert len(tickets) == 2
    t1 = tickets[1]
    assert [state for _, state in t1.moves()] == [
        "open",
        "dispatched",
        "rectified",
        "verified",
        "closed",
    ]
    assert t1.opened_at == at("10:00") and t1.rectify_due_at == at("10:00") + timedelta(hours=72)
    assert (tickets[2].severity, tickets[2].kind) == ("minor", "elevator")
    # A window after T1 closed, with nothing changing in it: only T2 (unresolved) counts.
    clock.set(at("13:00"))
    later = load_tickets(engine, at("12:00"), at("13:00"), repeat_window=timedelta(days=30))
    assert [t.id for t in later] == [2]
    history.record(finding(ELEVATOR, "door_slowing", Severity.MINOR))  # an occurrence at 13:00
    (t2,) = load_tickets(engine, at("13:00"), at("14:00"), repeat_window=timedelta(days=30))
    assert t2.occurrences == (at("13:00"),)


def test_job_writes_kpis_to_influxdb(
    engine: Engine, history: TicketStore, clock: ManualClock, influx_store: InfluxStore
) -> None:
    influx_store.write(LIVENESS_POINTS)
    influx_store.write(
        [
            Point("facmon_service", {"instance": "i"}, {"ingest_lag_seconds": 0.5}, _ms("10:10")),
            Point("facmon_service", {"instance": "i"}, {"ingest_lag_seconds": 1.5}, _ms("10:50")),
        ]
    )
    run = _job(engine, influx_store, clock).run(at("10:00"), at("12:00"))
    assert run.buckets == 2

    site = _rows(influx_store, 'SELECT * FROM "kpi" WHERE "scope" = \'site\'')
    assert [row["time"] for row in site] == [_ms("10:00"), _ms("11:00")]
    first, second = site
    assert (first["observed_s"], first["good_s"], first["integrity_pct"]) == (7200, 1800, 25)
    assert (first["rectified"], first["rectified_on_time"], first["mttr_s"]) == (1, 1, 2400)
    assert (first["opened"], first["failures"], first["open_major"]) == (1, 1, 1)
    assert (second["good_s"], second["open_major"], second["open_minor"]) == (6600, 0, 1)
    assert second["integrity_pct"] == pytest.approx(91.6667, 1e-5)
    assert second["failures"] is None  # T2 is minor: no failure, so no MTBF either
    # MTBF: pump 3,600 s + elevator 1,800 s online, over one failure (T1).
    assert second["mtbf_s"] is None and first["mtbf_s"] == 5400.0

    pump = _rows(
        influx_store,
        'SELECT "good_s", "building" FROM "kpi" '
        "WHERE \"scope\" = 'building_kind' AND \"kind\" = 'pump'",
    )
    assert [row["good_s"] for row in pump] == [0, 3000]
    assert {row["building"] for row in pump} == {"plant"}

    service = _rows(influx_store, 'SELECT * FROM "kpi" WHERE "scope" = \'service\'')
    assert [row["dead_letters"] for row in service] == [1, 1]  # 12:00 is the next bucket
    assert (service[0]["ingest_lag_max_s"], service[0]["ingest_lag_mean_s"]) == (1.5, 1.0)
    assert service[1]["ingest_lag_max_s"] is None

    events = _rows(influx_store, 'SELECT "text", "ticket_id" FROM "ticket_events" GROUP BY *')
    assert sorted((row["time"], row["event"]) for row in events) == [
        (_ms("10:00"), "open"),
        (_ms("10:20"), "dispatched"),
        (_ms("10:40"), "rectified"),
        (_ms("11:10"), "verified"),
        (_ms("11:20"), "closed"),
        (_ms("11:30"), "open"),
    ]
    rectified = next(row for row in events if row["event"] == "rectified")
    assert rectified["text"] == "ticket 1 bearing_wear: dispatched -> rectified"
    assert (rectified["device_id"], rectified["severity"]) == ("pump-1", "major")


def test_job_is_idempotent_and_computes_the_running_bucket_up_to_now(
    engine: Engine, history: TicketStore, clock: ManualClock, influx_store: InfluxStore
) -> None:
    influx_store.write(LIVENESS_POINTS)
    job = _job(engine, influx_store, clock)
    clock.set(at("11:30"))
    job.run(at("10:00"), at("12:00"))
    (running,) = _rows(
        influx_store,
        f"{SITE_OBSERVED} AND time >= '2024-03-01T11:00:00Z'",
    )
    assert running["observed_s"] == 2 * 1800  # two devices, 11:00-11:30 so far

    clock.set(at("12:00"))
    first = job.run(at("10:00"), at("12:00"))
    count = 'SELECT count("devices") FROM "kpi"'
    points_before = _rows(influx_store, count)[0]["count"]
    second = job.run(at("10:00"), at("12:00"))
    assert first == second
    assert _rows(influx_store, count)[0]["count"] == points_before == first.kpi_points - 2
    (completed,) = _rows(
        influx_store,
        f"{SITE_OBSERVED} AND time >= '2024-03-01T11:00:00Z'",
    )
    assert completed["observed_s"] == 7200


CHANGES = [
    LivenessChange(
        p.tags["device_id"],
        p.tags["site"],
        p.tags["building"],
        p.tags["kind"],
        p.ts_ms,
        bool(p.fields["online"]),
    )
    for p in LIVENESS_POINTS
]


@pytest.mark.parametrize("backend", ["influxdb", "sqlite"])
def test_series_store_readers_agree_with_the_hand_built_history(
    backend: str, influx: InfluxServer, tmp_path: Path
) -> None:
    store: InfluxStore | SQLiteSeriesStore
    if backend == "influxdb":
        store = InfluxStore(influx.url, unique("kpi").replace("-", "_"))
    else:
        store = SQLiteSeriesStore(tmp_path / "series.sqlite")
    try:
        store.write(LIVENESS_POINTS)
        lag = [
            Point("facmon_service", {"instance": "i"}, {"ingest_lag_seconds": v}, _ms(hh_mm))
            for v, hh_mm in ((2.0, "10:10"), (4.0, "10:20"))
        ]
        store.write(lag)
        signals = signals_for(store)
        assert isinstance(signals, InfluxSignals if backend == "influxdb" else SQLiteSignals)
        expected = ListLiveness(CHANGES)
        for start, end in (("10:00", "11:00"), ("10:30", "12:00"), ("08:00", "09:00")):
            got = signals.liveness(_ms(start), _ms(end))
            assert sorted(got, key=repr) == sorted(
                expected.liveness(_ms(start), _ms(end)), key=repr
            ), (start, end)
        # Before 10:30 the elevator's last word is its 09:00 online; 10:30 itself is "within".
        states = {
            (c.device_id, c.ts_ms, c.online) for c in signals.liveness(_ms("10:30"), _ms("11:00"))
        }
        assert states == {
            ("pump-1", _ms("09:00"), True),
            ("elevator-1", _ms("09:00"), True),
            ("elevator-1", _ms("10:30"), False),
        }
        assert signals.ingest_lag(_ms("10:00"), _ms("11:00")) == LagStats(4.0, 3.0)
        assert signals.ingest_lag(_ms("11:00"), _ms("12:00")) is None
    finally:
        store.close()


class _RecordingJob:
    """A stand-in for KpiJob that records the windows the scheduler asks for."""

    bucket = timedelta(hours=1)

    def __init__(self, clock: ManualClock, fail: bool = False) -> None:
        self.clock: Clock = clock  # the scheduler's protocol declares the wider type
        self.fail = fail
        self.windows: list[tuple[datetime, datetime]] = []

    def run(self, start: datetime, end: datetime) -> None:
        self.windows.append((start, end))
        if self.fail:
            raise RuntimeError("store down")


def test_scheduler_settles_once_per_bucket_and_otherwise_computes_the_last_two() -> None:
    clock = ManualClock(at("10:20"))
    job = _RecordingJob(clock)
    scheduler = KpiScheduler(job, settle=timedelta(hours=5))
    scheduler.run_once()
    clock.set(at("10:40"))
    scheduler.run_once()
    clock.set(at("11:05"))  # a new bucket: settle again
    scheduler.run_once()
    assert job.windows == [
        (at("05:00"), at("10:20")),
        (at("09:00"), at("10:40")),
        (at("06:00"), at("11:05")),
    ]


def test_job_refuses_the_embedded_series_store(engine: Engine, tmp_path: Path) -> None:
    series = SQLiteSeriesStore(tmp_path / "series.sqlite")
    with pytest.raises(ValueError, match="InfluxDB"):
        KpiJob(engine, series, ListLiveness([]))
    series.close()


def test_scheduler_thread_logs_failures_and_retries(clock: ManualClock) -> None:
    failing = KpiScheduler(_RecordingJob(clock, fail=True), interval_s=0.01)
    failing.start()
    try:
        wait_until(lambda: failing.failures >= 2, what="a retried failing run")
    finally:
        failing.stop()
    assert failing.runs == 0 and failing.last_error == "RuntimeError: store down"


def test_cli_computes_a_range_from_settings(
    engine: Engine,
    history: TicketStore,
    influx: InfluxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = unique("kpi_cli").replace("-", "_")
    store = InfluxStore(influx.url, database)
    store.write(LIVENESS_POINTS)
    monkeypatch.setenv("FACMON_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("FACMON_INFLUX_URL", influx.url)
    monkeypatch.setenv("FACMON_INFLUX_DATABASE", database)
    parser = argparse.ArgumentParser()
    add_kpi_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["kpi", "compute", "--from", "2024-03-01T10:00Z", "--to", "2024-03-01T12:00:00+00:00"]
    )
    assert args.func(args) == 0
    assert "over 2 buckets and 6 ticket events" in capsys.readouterr().out
    (row,) = _rows(store, 'SELECT last("integrity_pct") FROM "kpi" WHERE "scope" = \'site\'')
    assert row["last"] == pytest.approx(91.6667, 1e-5)
    store.close()
    bad = parser.parse_args(
        ["kpi", "compute", "--from", "2024-03-01T12:00Z", "--to", "2024-03-01T10:00Z"]
    )
    assert bad.func(bad) == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["kpi", "compute", "--from", "yesterday"])
