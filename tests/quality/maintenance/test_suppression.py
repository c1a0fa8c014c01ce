"""Findings on a device under maintenance open no ticket: from the work order's dispatch
until its verification, or within an explicit window, they are kept as suppressed
occurrences on the work order (through ingest's finding recorder, as the service records
them). Afterwards the same fault opens a ticket. A window that ends with the device still
under maintenance is flagged. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock, to_ms
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from ingest.pipeline.batching import Batch
from ingest.pipeline.findings import FindingRecorder
from observability.metrics import IngestMetrics, MetricsRegistry
from quality.ledger.store import LedgerStore
from quality.ledger.validation import EquipmentUpdate
from quality.maintenance.desk import MaintenanceDesk
from quality.maintenance.errors import Invalid
from quality.maintenance.gate import MaintenanceGate
from quality.maintenance.overrun import OVERRUN_FAULT
from quality.maintenance.plans import PlanStore
from quality.maintenance.validation import validate_plan
from quality.maintenance.windows import WindowStore
from quality.tickets import TicketStore
from quality.tickets.lifecycle import Role, State
from tests.conftest import wait_until
from tests.quality.maintenance.conftest import START, add_device


def _finding(site: str, device_id: str = "door-1") -> Finding:
    return Finding(
        DeviceRef(site, "b1", "access", device_id),
        "door_held_open",
        Severity.MAJOR,
        "door_held_open",
        "1",
        0,
        "door held open for 95 s",
        {"held_open_s": 95},
    )


@pytest.fixture
def recorder(tickets: TicketStore) -> FindingRecorder:
    made = FindingRecorder(tickets, IngestMetrics(MetricsRegistry()), None)
    made.maintenance = MaintenanceDesk(tickets, refresh_s=3600.0)
    return made


def _record(recorder: FindingRecorder, clock: ManualClock, finding: Finding) -> None:
    recorder.record([finding], to_ms(clock.now()), Batch())


def _door_tickets(tickets: TicketStore, site: str) -> list[int]:
    return [t.id for t in tickets.list() if t.site == site and t.fault_type == "door_held_open"]


def test_a_dispatched_work_order_suppresses_findings_until_verified(
    engine: Engine,
    clock: ManualClock,
    tickets: TicketStore,
    recorder: FindingRecorder,
    site: str,
) -> None:
    add_device(engine, site, "door-1", kind="access")
    spec = validate_plan(
        {"name": "door service", "site": site, "device_id": "door-1", "every_days": 90},
        START.date(),
    )
    PlanStore(engine, clock).create(spec, "lead")
    desk = recorder.maintenance
    assert desk is not None
    desk.tick()  # starts the scheduler's first run: it opens today's work order
    wait_until(lambda: desk.runs == 1, what="the scheduler's run")
    desk.tick()  # not again within the minute
    assert desk.runs == 1 and (desk._thread is None or not desk._thread.is_alive())
    (work_order,) = [t for t in tickets.list() if t.site == site]
    assert work_order.state == State.OPEN
    desk.gate.refresh()
    _record(recorder, clock, _finding(site))  # open, not dispatched: not suppressed yet
    assert len(_door_tickets(tickets, site)) == 1
    tickets.transition(_door_tickets(tickets, site)[0], State.CLOSED, "lead", Role.QUALITY, "x")

    tickets.assign(work_order.id, "team-a", "lead", Role.QUALITY, None)
    desk.gate.refresh()
    clock.advance(minutes=5)
    _record(recorder, clock, _finding(site))
    _record(recorder, clock, _finding(site, "door-2"))  # another device: not covered
    assert len(_door_tickets(tickets, site)) == 1 + 1  # only door-2's
    record = tickets.get(work_order.id)
    assert record is not None
    ticket, occurrences = record
    assert ticket.occurrences == 2
    assert occurrences[-1].summary.startswith("suppressed during maintenance")
    assert occurrences[-1].evidence["fault_type"] == "door_held_open"
    (kept,) = WindowStore(engine).suppressed(site, "door-1")
    assert (kept.ticket_id, kept.fault_type, kept.detector) == (
        work_order.id,
        "door_held_open",
        "door_held_open",
    )

    tickets.transition(work_order.id, State.RECTIFIED, "team-a", Role.ENGINEER)
    desk.gate.refresh()
    clock.advance(minutes=5)
    _record(recorder, clock, _finding(site))  # rectified, not yet verified: still covered
    assert len(WindowStore(engine).suppressed(site, "door-1")) == 2
    tickets.transition(work_order.id, State.VERIFIED, "lead", Role.QUALITY, "checked")
    desk.gate.refresh()
    _record(recorder, clock, _finding(site))
    assert len(_door_tickets(tickets, site)) == 3  # the fault opens a ticket again


def test_the_gate_rereads_covers_after_its_refresh_interval(
    engine: Engine, clock: ManualClock, site: str
) -> None:
    add_device(engine, site, "door-1", kind="access")
    seconds = [0.0]
    gate = MaintenanceGate(engine, clock, refresh_s=10.0, monotonic_s=lambda: seconds[0])
    assert gate.is_suppressed(site, "door-1", clock.now()) is None
    WindowStore(engine, clock).create(
        {
            "site": site,
            "device_id": "door-1",
            "from": START.isoformat(),
            "to": (START + timedelta(hours=2)).isoformat(),
            "reason": "lock replacement",
        },
        "lead",
    )
    assert gate.is_suppressed(site, "door-1", clock.now()) is None  # not re-read yet
    seconds[0] = 10.0
    cover = gate.is_suppressed(site, "door-1", clock.now())
    assert cover is not None and cover.window_id is not None
    assert gate.is_suppressed(site, "door-1", START + timedelta(hours=2)) is None  # `to` excluded
    assert gate.is_suppressed(f"{site}-x", "door-1", clock.now()) is None


def test_a_window_suppresses_and_flags_an_overrun_once(
    engine: Engine,
    clock: ManualClock,
    tickets: TicketStore,
    recorder: FindingRecorder,
    site: str,
) -> None:
    add_device(engine, site, "door-1", kind="access")
    window = WindowStore(engine, clock).create(
        {
            "site": site,
            "device_id": "door-1",
            "from": (START - timedelta(minutes=1)).isoformat(),
            "to": (START + timedelta(hours=1)).isoformat(),
            "reason": "lock replacement",
        },
        "lead",
    )
    desk = recorder.maintenance
    assert desk is not None
    desk.gate.refresh()
    _record(recorder, clock, _finding(site))
    assert _door_tickets(tickets, site) == []
    (kept,) = WindowStore(engine).suppressed(site)
    assert (kept.window_id, kept.ticket_id) == (window.id, None)

    LedgerStore(engine).update(
        site, "door-1", EquipmentUpdate.model_validate({"status": "under_maintenance"})
    )
    clock.set(START + timedelta(hours=1, minutes=1))
    assert desk.scheduler.overruns.check() == 1
    assert desk.scheduler.overruns.check() == 0
    (flagged,) = WindowStore(engine).list(site)
    assert flagged.overrun_at is not None and flagged.overrun_ticket_id is not None
    overrun = tickets.require(flagged.overrun_ticket_id)
    assert (overrun.fault_type, overrun.device_id) == (OVERRUN_FAULT, "door-1")
    assert "still marked under maintenance" in overrun.summary


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": "2027-03-01T08:00:00"}, "from"),  # no zone
        ({"to": "2027-03-01T07:00:00+00:00"}, "to"),  # before from
        ({"to": "2027-09-01T07:00:00+00:00"}, "to"),  # too long
        ({"reason": ""}, "reason"),
        ({"device_id": "door-9"}, "device_id"),  # not in the ledger
        ({"site": None}, "site"),
        ({"until": "x"}, "until"),
    ],
)
def test_a_wrong_window_names_its_field(
    engine: Engine, site: str, change: dict[str, object], field: str
) -> None:
    add_device(engine, site, "door-1", kind="access")
    body = {
        "site": site,
        "device_id": "door-1",
        "from": "2027-03-01T08:00:00+00:00",
        "to": "2027-03-01T10:00:00+00:00",
        "reason": "lock replacement",
        **change,
    }
    with pytest.raises(Invalid) as refused:
        WindowStore(engine).create({k: v for k, v in body.items() if v is not None}, "lead")
    assert refused.value.field == field
    assert refused.value.message.zh and refused.value.message.en.startswith(field)


def test_a_device_plan_needs_the_device_in_the_ledger(engine: Engine, site: str) -> None:
    spec = validate_plan({"name": "x", "site": site, "device_id": "ghost", "every_days": 7})
    with pytest.raises(Invalid) as refused:
        PlanStore(engine).create(spec, "lead")
    assert refused.value.field == "device_id" and "设备台账" in refused.value.message.zh
    assert PlanStore(engine).list() == []
