"""One incident, one ticket: findings of one fault seen by two detectors join one ticket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets import TicketStore
from quality.tickets.incidents import joinable
from quality.tickets.lifecycle import Role, State

PUMP = DeviceRef("hq", "b1", "pump", "pump-07")
LIFT = DeviceRef("hq", "b1", "elevator", "lift-2")
DETECTOR_OF = {
    "bearing_wear": "pump_bearing_wear",
    "pump_anomaly": "pump_multivariate",
    "cavitation": "pump_cavitation",
    "offline": "offline",
    "door_slowing": "elevator_door_slowing",
    "door_reversals": "elevator_door_reversals",
}


def finding(
    device: DeviceRef, fault_type: str, onset_ms: int = 1_000, severity: Severity = Severity.MAJOR
) -> Finding:
    return Finding(
        device=device,
        fault_type=fault_type,
        severity=severity,
        detector=DETECTOR_OF[fault_type],
        detector_version="1",
        onset_ms=onset_ms,
        summary=f"{fault_type} at {onset_ms}",
        evidence={"onset": onset_ms},
    )


def test_the_rule_is_explicit() -> None:
    assert joinable("pump", "bearing_wear") == {"bearing_wear", "pump_anomaly"}
    assert joinable("pump", "pump_anomaly") >= {"bearing_wear", "cavitation", "pump_anomaly"}
    assert joinable("elevator", "door_reversals") == {"door_slowing", "door_reversals"}
    assert joinable("pump", "offline") == {"offline"}
    # the generalist links its kind's causes, but two causes are two incidents
    assert "cavitation" not in joinable("pump", "bearing_wear")


def test_bearing_wear_and_pump_anomaly_are_one_ticket(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    wear = store.record(finding(PUMP, "bearing_wear", 1))
    anomaly = store.record(finding(PUMP, "pump_anomaly", 2))
    assert wear.opened and not anomaly.opened and anomaly.ticket_id == wear.ticket_id
    ticket = store.require(wear.ticket_id)
    assert ticket.fault_type == "bearing_wear"
    assert ticket.detectors == ["pump_bearing_wear", "pump_multivariate"]
    joined = ticket.evidence["joined"]["pump_multivariate"]
    assert joined["fault_type"] == "pump_anomaly" and joined["evidence"]["onset"] == 2
    assert store.count() == 1


def test_a_specific_finding_refines_the_generalists_ticket(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    anomaly = store.record(finding(PUMP, "pump_anomaly", 1))
    wear = store.record(finding(PUMP, "bearing_wear", 2))
    assert wear.ticket_id == anomaly.ticket_id
    ticket = store.require(anomaly.ticket_id)
    assert ticket.fault_type == "bearing_wear"
    notes = [h.note or "" for h in store.history(ticket.id)]
    assert any("diagnosis refined: pump_anomaly -> bearing_wear" in n for n in notes)
    # the refined ticket is still found by later findings of either detector
    again = store.record(finding(PUMP, "pump_anomaly", 3))
    assert again.ticket_id == ticket.id and store.count() == 1


def test_two_causes_and_other_faults_stay_apart(engine_factory: Callable[[], Engine]) -> None:
    store = TicketStore(engine_factory())
    wear = store.record(finding(PUMP, "bearing_wear", 1))
    cavitation = store.record(finding(PUMP, "cavitation", 2))
    offline = store.record(finding(PUMP, "offline", 3))
    assert wear.opened and cavitation.opened and offline.opened
    assert len({wear.ticket_id, cavitation.ticket_id, offline.ticket_id}) == 3
    # the anomaly joins the oldest incident it covers
    anomaly = store.record(finding(PUMP, "pump_anomaly", 4))
    assert anomaly.ticket_id == wear.ticket_id


def test_door_slowing_and_reversals_are_one_ticket_per_device(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    slow = store.record(finding(LIFT, "door_slowing", 1))
    reversals = store.record(finding(LIFT, "door_reversals", 2))
    lift_3 = DeviceRef("hq", "b1", "elevator", "lift-3")
    other_lift = store.record(finding(lift_3, "door_reversals"))
    assert reversals.ticket_id == slow.ticket_id != other_lift.ticket_id
    assert store.require(slow.ticket_id).fault_type == "door_slowing"


def test_a_closed_incident_is_not_joined(engine_factory: Callable[[], Engine]) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = TicketStore(engine_factory(), clock=clock)
    wear = store.record(finding(PUMP, "bearing_wear", 1))
    for state in (State.DISPATCHED, State.RECTIFIED, State.VERIFIED, State.CLOSED):
        store.transition(wear.ticket_id, state, "qa", Role.ADMIN, "replaced bearing")
    clock.advance(days=2)  # past the reopen grace, within the repeat window
    anomaly = store.record(finding(PUMP, "pump_anomaly", 2))
    assert anomaly.opened and anomaly.ticket_id != wear.ticket_id
    assert anomaly.repeat_count == 2  # the same incident family counts as a repeat


@pytest.mark.parametrize("override", [False, True])
def test_a_graver_finding_raises_the_ticket_unless_a_person_set_it(
    engine_factory: Callable[[], Engine], override: bool
) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = TicketStore(engine_factory(), clock=clock)
    opened = store.record(finding(PUMP, "bearing_wear", 1, Severity.MINOR))
    before = store.require(opened.ticket_id)
    if override:
        store.set_severity(opened.ticket_id, "major", "qa", Role.ADMIN, "looks worse")
    clock.advance(hours=1)
    store.record(finding(PUMP, "bearing_wear", 2, Severity.CRITICAL))
    ticket = store.require(opened.ticket_id)
    assert ticket.detector_severity == "critical"
    if override:
        assert ticket.severity == "major"
    else:
        assert ticket.severity == "critical"
        assert ticket.dispatch_due_at < before.dispatch_due_at
        assert ticket.rectify_due_at < before.rectify_due_at
        notes = [h.note or "" for h in store.history(ticket.id)]
        assert any(n.startswith("severity minor -> critical") for n in notes)
