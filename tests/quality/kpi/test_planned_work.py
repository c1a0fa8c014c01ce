"""Planned work in the KPIs, on SQLite and PostgreSQL with a real InfluxDB: maintenance
windows and work orders leave their time out of the integrity rate; the maintenance-plan
execution rate and inspection-round completion, computed by their own modules, reach the
API and the job's `kpi` points alike.

Period: 2024-05-01 00:00 to 2024-05-03 00:00 UTC (48 h = 172,800 s), one job bucket.
Ledger: pump-7 and pump-8 (hq, plant), both online from 2024-04-30.

- pump-7 has a maintenance window 05-01 09:00-10:00 and is offline 09:15-09:45 within it:
  answerable 172,800 - 3,600 = 169,200 s, all intact.
- pump-8's plan falls due on 05-01 (planned end 05-02 00:00). Its work order is dispatched
  at 10:30 and re-checked (verified) at 11:30, on time; the device is offline 10:40-11:20,
  within the work: answerable 169,200 s, all intact.
- pump-7's plan fell due on 04-30 (planned end 05-01 00:00, in the period); its work order,
  opened late at 06:00, is never done.

Site hq: integrity 338,400 / 338,400 = 100 % with 7,200 s of maintenance left out (without
it: 345,600 - 1,800 - 2,400 offline = 98.78 %). Execution rate: 2 due, 1 on time = 50 %.
Inspection: two rounds finished in the period, 4 of 5 and 3 of 3 stops: 7 / 8 = 87.5 %;
a round finished on 05-03 does not count.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contract.clock import ManualClock, to_ms
from quality.inspections.models import InspectionRound, InspectionRoute
from quality.kpi import InfluxSignals, KpiJob, Period
from quality.kpi.job import floor_time
from quality.kpi.planned_work import planned_work
from quality.kpi.report import kpi_report, load_inputs
from quality.ledger import EquipmentCreate, LedgerStore
from quality.maintenance.plans import PlanStore
from quality.maintenance.scheduler import MaintenanceScheduler
from quality.maintenance.validation import validate_plan
from quality.maintenance.windows import WindowStore
from quality.tickets import Role, TicketStore
from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique
from tools.servers import InfluxServer

START = datetime(2024, 5, 1, tzinfo=UTC)
END = START + timedelta(days=2)
PERIOD = Period(START, END)


def at(hh_mm: str, day: int = 1) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2024, 5, day, hours, minutes, tzinfo=UTC)


def status(device_id: str, moment: datetime, online: bool) -> Point:
    tags = {"site": "hq", "building": "plant", "device_id": device_id, "kind": "pump"}
    return Point("device_status", tags, {"online": online}, to_ms(moment))


@pytest.fixture
def influx_store(influx: InfluxServer) -> Iterator[InfluxStore]:
    store = InfluxStore(influx.url, unique("kpi_planned").replace("-", "_"))
    day_before = datetime(2024, 4, 30, tzinfo=UTC)
    store.write(
        [
            status("pump-7", day_before, True),
            status("pump-8", day_before, True),
            status("pump-7", at("09:15"), False),
            status("pump-7", at("09:45"), True),
            status("pump-8", at("10:40"), False),
            status("pump-8", at("11:20"), True),
        ]
    )
    yield store
    store.close()


def make_planned_work(engine: Engine) -> None:
    clock = ManualClock(datetime(2024, 4, 29, tzinfo=UTC))
    ledger = LedgerStore(engine, clock=clock)
    for device_id in ("pump-7", "pump-8"):
        ledger.create(
            EquipmentCreate(
                site="hq", building="plant", kind="pump", device_id=device_id, name=device_id
            )
        )
    plans = PlanStore(engine, clock)
    for device_id, first_due in (("pump-8", "2024-05-01"), ("pump-7", "2024-04-30")):
        body = {"name": f"{device_id} service", "site": "hq", "device_id": device_id}
        spec = validate_plan({**body, "every_days": 30, "start": first_due}, date(2024, 4, 29))
        plans.create(spec, "quality-lead")
    tickets = TicketStore(engine, clock=clock, sinks=())
    clock.set(at("06:00"))
    opened = MaintenanceScheduler(tickets).run_once().opened
    assert len(opened) == 2
    work = {tickets.require(o.ticket_id).device_id: o.ticket_id for o in opened}
    clock.set(at("10:30"))
    tickets.assign(work["pump-8"], "pump-team", "lead", Role.QUALITY, None)
    clock.set(at("11:00"))
    tickets.transition(work["pump-8"], "rectified", "tech", Role.ENGINEER, "serviced")
    clock.set(at("11:30"))
    tickets.transition(work["pump-8"], "verified", "qa", Role.QUALITY, "checked on site")
    windows = WindowStore(engine, clock)
    window = {"site": "hq", "device_id": "pump-7", "reason": "filter change"}
    windows.create({**window, "from": "2024-05-01T09:00:00Z", "to": "2024-05-01T10:00:00Z"}, "qa")
    with Session(engine) as session:
        route = InspectionRoute(
            name="plant walk",
            site="hq",
            stops=[],
            created_by="qa",
            created_at=START,
            updated_at=START,
        )
        session.add(route)
        session.flush()
        for finished, total, answered in ((at("09:00"), 5, 4), (at("15:00", 2), 3, 3)):
            session.add(round_of(route, finished, total, answered))
        session.add(round_of(route, at("01:00", 3), 4, 0))  # after the period
        session.commit()


def round_of(route: InspectionRoute, finished: datetime, total: int, answered: int) -> Any:
    return InspectionRound(
        route_id=route.id,
        route_name=route.name,
        site=route.site,
        stops=[],
        inspector="inspector-1",
        started_at=finished - timedelta(hours=1),
        finished_at=finished,
        stops_total=total,
        stops_answered=answered,
        stops_skipped=list(range(answered, total)),
    )


def test_planned_work_in_the_integrity_rate_the_api_and_the_job(
    sql_engine: Engine, influx_store: InfluxStore
) -> None:
    make_planned_work(sql_engine)
    signals = InfluxSignals(influx_store)
    inputs = load_inputs(sql_engine, signals, signals, PERIOD, repeat_window=timedelta(days=30))
    groups = kpi_report(PERIOD, inputs).groups
    site = next(values for key, values in groups if key.scope == "site")
    assert (site.observed_s, site.good_s, site.integrity_pct) == (338400, 338400, 100.0)
    assert site.maintenance_s == 7200

    planned = planned_work(sql_engine, PERIOD, sites={"hq"})
    work = planned[next(k for k in planned if k.scope == "site")]
    assert (work.maintenance_due, work.maintenance_on_time) == (2, 1)
    assert work.maintenance_execution_pct == 50.0
    assert (work.inspection_stops, work.inspection_stops_done) == (8, 7)
    assert work.inspection_completion_pct == 87.5
    kind = planned[next(k for k in planned if k.scope == "kind")]
    assert (kind.maintenance_execution_pct, kind.inspection_completion_pct) == (50.0, None)
    assert planned_work(sql_engine, PERIOD, sites={"hq"}, building="plant") == {}

    assert floor_time(START, timedelta(days=2)) == START  # one aligned 48-hour bucket
    KpiJob(sql_engine, influx_store, signals, bucket=timedelta(days=2)).run(START, END)
    rows = {}
    query = 'SELECT * FROM "kpi" WHERE "scope" != \'service\' GROUP BY "scope"'
    for series in influx_store.query(query):
        (values,) = series["values"]
        rows[series["tags"]["scope"]] = dict(zip(series["columns"], values, strict=True))
    assert rows["site"]["integrity_pct"] == 100.0 and rows["site"]["maintenance_s"] == 7200
    assert rows["site"]["maintenance_execution_pct"] == 50.0
    assert rows["site"]["inspection_completion_pct"] == 87.5
    assert rows["kind"]["maintenance_execution_pct"] == 50.0
    assert rows["kind"].get("inspection_completion_pct") is None
    assert rows["building"].get("maintenance_execution_pct") is None
