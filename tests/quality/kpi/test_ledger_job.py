"""The integrity rate over the equipment ledger and the loop KPIs, end to end: the ledger
and tickets in SQLite and PostgreSQL through their real stores, telemetry and liveness in a
real InfluxDB, the job's `kpi` points read back. The arithmetic is in `scenario`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.kpi import InfluxSignals, KpiJob
from quality.kpi.equipment import load_ledger
from quality.kpi.records import Period
from quality.kpi.report import ledger_silences
from quality.ledger import EquipmentCreate, LedgerStore
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique
from tests.quality.kpi import scenario
from tests.quality.kpi.scenario import END, START, at
from tools.servers import InfluxServer


@pytest.fixture
def influx_store(influx: InfluxServer) -> Iterator[InfluxStore]:
    store = InfluxStore(influx.url, unique("kpi_ledger").replace("-", "_"))
    store.write(scenario.series_points())
    yield store
    store.close()


def rows(store: InfluxStore, where: str) -> list[dict[str, Any]]:
    found = []
    for series in store.query(f'SELECT * FROM "kpi" WHERE {where}'):
        for values in series["values"]:
            found.append(dict(zip(series["columns"], values, strict=True)))
    return found


def run_job(engine: Engine, store: InfluxStore) -> None:
    """The job over the period, in one 4-hour bucket (08:00-12:00 is aligned to it)."""
    signals = InfluxSignals(store)
    KpiJob(engine, store, signals, lag=signals, bucket=timedelta(hours=4)).run(START, END)


def test_silences_past_the_ledger_interval_come_from_influxdb(
    sql_engine: Engine, influx_store: InfluxStore
) -> None:
    scenario.make_ledger(sql_engine)
    silences = ledger_silences(
        InfluxSignals(influx_store), load_ledger(sql_engine), Period(START, END)
    )
    ms = lambda hh_mm: int(at(hh_mm).timestamp() * 1000)  # noqa: E731
    # elevator-1: last sample 09:00, next 09:30; 3 x 60 s later it was silent: 09:03-09:30.
    assert silences[("hq", "elevator-1")] == [(ms("09:03"), ms("09:30"))]
    # light-1 never sent a sample: silent the whole period. Devices without an interval
    # (the pumps) and those that do not count (decommissioned, pending) are not asked about.
    assert silences[("hq", "light-1")] == [(ms("08:00"), ms("12:00"))]
    assert set(silences) == {("hq", "elevator-1"), ("hq", "light-1")}


def test_job_writes_the_ledger_integrity_and_loop_kpis(
    sql_engine: Engine, influx_store: InfluxStore
) -> None:
    scenario.make_ledger(sql_engine)
    scenario.make_tickets(sql_engine)
    run_job(sql_engine, influx_store)

    (site,) = rows(influx_store, "\"scope\" = 'site'")
    assert site["denominator"] == "ledger"
    # elevator-1, pump-1, light-1 and pump-2 (until its maintenance); light-1 never reported
    assert (site["devices"], site["never_reported"]) == (4, 1)
    assert (site["good_s"], site["observed_s"]) == (21780, 50400)
    assert site["maintenance_s"] == 7200  # pump-2, 10:00-12:00
    assert site["online_s"] == 34200
    for name, value in scenario.SITE_FIGURES.items():
        assert site[name] == pytest.approx(value), name
    assert (site["closed_out"], site["first_time_fixes"]) == (2, 1)
    assert (site["open_major"], site["open_minor"]) == (2, 1)

    buildings = {r["building"]: r for r in rows(influx_store, "\"scope\" = 'building'")}
    assert buildings["tower"]["integrity_pct"] == pytest.approx(scenario.TOWER_INTEGRITY)
    assert buildings["plant"]["integrity_pct"] == pytest.approx(scenario.PLANT_INTEGRITY)
    kinds = {r["kind"]: r for r in rows(influx_store, "\"scope\" = 'kind'")}
    assert set(kinds) == {"elevator", "pump", "lighting"}  # no access door counts
    assert kinds["lighting"]["integrity_pct"] == 0
    assert kinds["elevator"]["integrity_pct"] == pytest.approx(100 * 7380 / 14400)


def test_a_device_answers_from_when_the_ledger_registered_it(
    sql_engine: Engine, influx_store: InfluxStore
) -> None:
    """Equipment entered in the ledger at 10:00 counts from 10:00: a ledger imported today
    does not make the weeks before it a month of failed equipment."""
    scenario.make_ledger(sql_engine)
    LedgerStore(sql_engine, clock=ManualClock(at("10:00"))).create(
        EquipmentCreate(
            site="hq",
            building="tower",
            kind="elevator",
            device_id="elevator-9",
            name="elevator-9",
            reporting_interval_s=60,
        )
    )
    scenario.make_tickets(sql_engine)
    run_job(sql_engine, influx_store)
    (site,) = rows(influx_store, "\"scope\" = 'site'")
    assert (site["devices"], site["never_reported"]) == (5, 2)
    # the four of test_job_writes_the_ledger_integrity_and_loop_kpis (50,400 s), and
    # elevator-9 from 10:00 to 12:00, silent and so not intact
    assert (site["good_s"], site["observed_s"]) == (21780, 50400 + 7200)


def test_with_an_empty_ledger_the_reporting_devices_are_the_denominator(
    sql_engine: Engine, influx_store: InfluxStore
) -> None:
    scenario.make_tickets(sql_engine)
    run_job(sql_engine, influx_store)
    (site,) = rows(influx_store, "\"scope\" = 'site'")
    assert site["denominator"] == "reporting devices"
    # the five devices with a status (light-1 never reported, so it is not among them)
    assert site["devices"] == 5 and "never_reported" not in site
    # elevator-1 7,200 (T1 10:00-11:00, T4 from 11:30: its silence is not judged without
    # the ledger), pump-1 12,600, pump-2 1,800 (T3 from 08:30; offline from 10:30),
    # door-old and door-new 14,400 each.
    assert site["good_s"] == 14400 - 3600 - 1800 + 12600 + 1800 + 2 * 14400
    assert site["observed_s"] == 5 * 14400
