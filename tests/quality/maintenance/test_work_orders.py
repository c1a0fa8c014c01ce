"""Work orders opened ahead of each due date, once, even with two schedulers racing; a
per-kind plan fanned out over the ledger; dispatch to the plan's contractor; overruns;
the execution rate over real tickets. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from quality.maintenance.execution import execution_rate_of
from quality.maintenance.listing import list_work_orders
from quality.maintenance.models import MAINTENANCE_FAULT, MaintenancePlan, MaintenanceWorkOrder
from quality.maintenance.plans import PlanStore
from quality.maintenance.scheduler import MaintenanceScheduler
from quality.maintenance.validation import validate_plan
from quality.tickets import TicketStore
from quality.tickets.lifecycle import Role, State
from quality.tickets.models import Ticket
from tests.quality.maintenance.conftest import START, add_device


def _plan(engine: Engine, clock: ManualClock, **body: object) -> MaintenancePlan:
    spec = validate_plan({"name": "service", **body}, START.date())
    return PlanStore(engine, clock).create(spec, "quality-lead")


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_work_order_opens_within_its_lead_time_and_once(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    add_device(engine, site, "pump-1")
    # every 10 days from 1 March: due 1, 11, 21 March; opened 2 days ahead
    _plan(
        engine,
        clock,
        site=site,
        device_id="pump-1",
        every_days=10,
        lead_days=2,
        start="2027-03-01",
        checklist="bearings, seals",
    )
    scheduler = MaintenanceScheduler(tickets)
    first = scheduler.run_once().opened
    assert len(first) == 1 and first[0].new_ticket
    assert scheduler.run_once().opened == []  # idempotent
    ticket = tickets.require(first[0].ticket_id)
    assert (ticket.fault_type, ticket.state, ticket.card) == (MAINTENANCE_FAULT, "open", "none")
    assert "2027-03-01" in ticket.summary and ticket.evidence["checklist"] == "bearings, seals"
    # through the loop; then 8 March is still before the next lead time (9 March)
    tickets.assign(ticket.id, "team-a", "lead", Role.QUALITY, None)
    tickets.transition(ticket.id, State.RECTIFIED, "team-a", Role.ENGINEER)
    tickets.transition(ticket.id, State.VERIFIED, "lead", Role.QUALITY, "checked on site")
    tickets.transition(ticket.id, State.CLOSED, "lead", Role.QUALITY)
    clock.set(datetime(2027, 3, 8, 23, 0, tzinfo=UTC))
    assert scheduler.run_once().opened == []
    clock.set(datetime(2027, 3, 9, 0, 0, tzinfo=UTC))
    second = scheduler.run_once().opened
    assert len(second) == 1 and second[0].ticket_id != ticket.id  # a new ticket, no reopen
    assert tickets.require(second[0].ticket_id).repeat_count == 1
    with Session(engine) as session:
        dues = session.scalars(select(MaintenanceWorkOrder.due_date).order_by("due_date")).all()
    assert dues == [date(2027, 3, 1), date(2027, 3, 11)]


def test_two_schedulers_racing_open_one_work_order(
    engine_factory: Callable[[], Engine], clock: ManualClock, site: str
) -> None:
    engine = engine_factory()
    add_device(engine, site, "pump-1")
    add_device(engine, site, "pump-2")
    _plan(engine, clock, site=site, kind="pump", every_days=7, start="2027-03-01")
    schedulers = [
        MaintenanceScheduler(TicketStore(engine_factory(), clock=clock, sinks=())) for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    opened: list[int] = []
    errors: list[BaseException] = []

    def race(scheduler: MaintenanceScheduler) -> None:
        try:
            barrier.wait()
            opened.append(len(scheduler.run_once().opened))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(opened) == 2  # one per device, whoever opened it
    assert _count(engine, MaintenanceWorkOrder) == 2
    with Session(engine) as session:
        keys = session.execute(
            select(Ticket.device_id, func.count()).group_by(Ticket.device_id)
        ).all()
    assert sorted(keys) == [("pump-1", 1), ("pump-2", 1)]


def test_a_kind_plan_covers_every_in_service_device_of_that_kind(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    add_device(engine, site, "pump-1")
    add_device(engine, site, "pump-2")
    add_device(engine, site, "pump-3", status="under_maintenance")
    add_device(engine, site, "pump-4", status="pending")
    add_device(engine, site, "door-1", kind="access")
    add_device(engine, f"{site}-other", "pump-1")
    _plan(engine, clock, site=site, kind="pump", every_days=30, start="2027-03-01")
    run = MaintenanceScheduler(tickets).run_once()
    devices = sorted(tickets.require(o.ticket_id).device_id for o in run.opened)
    assert devices == ["pump-1", "pump-2"]
    _plan(engine, clock, kind="pump", every_days=30, start="2027-03-01")  # every site
    run = MaintenanceScheduler(tickets).run_once()
    # the other site's pump gets a ticket; this site's join their open work orders
    assert sorted((o.new_ticket, tickets.require(o.ticket_id).site) for o in run.opened) == [
        (False, site),
        (False, site),
        (True, f"{site}-other"),
    ]
    history = tickets.history(run.opened[0].ticket_id)
    assert any("joins this open maintenance work order" in (h.note or "") for h in history)


def test_a_plan_with_a_contractor_dispatches_to_it(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    add_device(engine, site, "lift-1", kind="elevator")
    _plan(
        engine,
        clock,
        site=site,
        device_id="lift-1",
        monthly_day=3,
        lead_days=5,
        start="2027-03-01",
        contractor="Lift Co",
    )
    (opened,) = MaintenanceScheduler(tickets).run_once().opened
    ticket = tickets.require(opened.ticket_id)
    assert (ticket.state, ticket.assignee, ticket.contractor) == (
        "dispatched",
        "Lift Co",
        "Lift Co",
    )
    assert ticket.evidence["due_date"] == "2027-03-03"


def test_a_work_order_not_verified_by_its_planned_end_overruns(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    add_device(engine, site, "pump-1")
    _plan(
        engine,
        clock,
        site=site,
        device_id="pump-1",
        every_days=30,
        start="2027-03-02",
        lead_days=1,
        contractor="Pump Co",
    )
    scheduler = MaintenanceScheduler(tickets)
    (opened,) = scheduler.run_once().opened
    (order,) = list_work_orders(engine, clock.now(), site=site)
    assert (order["overrun"], order["state"]) == (False, "dispatched")
    clock.set(datetime(2027, 3, 3, 0, 0, 1, tzinfo=UTC))  # past the end of 2 March
    assert scheduler.run_once().overruns == 1
    assert scheduler.run_once().overruns == 0  # flagged once
    (order,) = list_work_orders(engine, clock.now(), site=site)
    assert order["overrun"] and order["overrun_at"] == clock.now()
    notes = [h.note or "" for h in tickets.history(opened.ticket_id)]
    assert any(n.startswith("maintenance overran") and "保养超期" in n for n in notes)


def test_execution_rate_over_real_work_orders_by_hand(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    for name in ("pump-1", "pump-2", "pump-3"):
        add_device(engine, site, name)
    add_device(engine, site, "door-1", kind="access")
    _plan(engine, clock, site=site, kind="pump", every_days=30, start="2027-03-02", lead_days=1)
    _plan(engine, clock, site=site, kind="access", every_days=30, start="2027-03-02", lead_days=1)
    orders = {
        tickets.require(o.ticket_id).device_id: o.ticket_id
        for o in MaintenanceScheduler(tickets).run_once().opened
    }

    def verify(ticket_id: int) -> None:
        tickets.assign(ticket_id, "team", "lead", Role.QUALITY, None)
        tickets.transition(ticket_id, State.RECTIFIED, "team", Role.ENGINEER)
        tickets.transition(ticket_id, State.VERIFIED, "lead", Role.QUALITY, "done")

    clock.set(datetime(2027, 3, 2, 18, 0, tzinfo=UTC))
    verify(orders["pump-1"])  # on time
    verify(orders["door-1"])  # on time
    clock.set(datetime(2027, 3, 3, 9, 0, tzinfo=UTC))
    verify(orders["pump-2"])  # late; pump-3 never done
    start, end = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    by_kind = execution_rate_of(engine, start, end, "kind", as_of=clock.now())
    assert [(r.group, r.due, r.on_time) for r in by_kind] == [
        ({"kind": "access"}, 1, 1),
        ({"kind": "pump"}, 3, 1),
    ]
    (whole,) = execution_rate_of(engine, start, end, "site", as_of=clock.now())
    assert (whole.group, whole.due, whole.on_time, whole.rate) == ({"site": site}, 4, 2, 0.5)
    # before the planned end nothing is due yet
    early = datetime(2027, 3, 2, 20, 0, tzinfo=UTC)
    assert execution_rate_of(engine, start, end, "site", as_of=early) == []


def test_due_dates_missed_for_long_are_not_opened_late(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    add_device(engine, site, "pump-1")
    _plan(engine, clock, site=site, device_id="pump-1", every_days=1, start="2027-03-01")
    scheduler = MaintenanceScheduler(tickets)
    assert len(scheduler.run_once().opened) == 1
    clock.set(datetime(2030, 6, 1, 8, 0, tzinfo=UTC))  # the service was down for years
    opened = scheduler.run_once().opened
    assert len(opened) == 32  # 31 days back and today; all join one open work order
    assert len({o.ticket_id for o in opened}) == 1
    with Session(engine) as session:
        dues = session.scalars(
            select(MaintenanceWorkOrder.due_date).order_by(MaintenanceWorkOrder.due_date)
        ).all()
    assert (dues[0], dues[1], dues[-1]) == (date(2027, 3, 1), date(2030, 5, 1), date(2030, 6, 1))
    assert scheduler.run_once().opened == []
