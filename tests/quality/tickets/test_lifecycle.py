"""The quality loop on real databases, with an injected clock so SLA time passes instantly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets.lifecycle import IllegalTransition, NoteRequired, NotPermitted, Role
from quality.tickets.outbox import OutboxEvent
from quality.tickets.policy import TicketPolicy
from quality.tickets.store import TicketStore

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
DOOR = DeviceRef("hq", "b1", "access", "door-9")


def finding(severity: Severity = Severity.MAJOR, fault: str = "door_held_open") -> Finding:
    return Finding(DOOR, fault, severity, "access_door_held_open", "1", 1, "held 90 s", {"v": 90})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(engine_factory: Callable[[], Engine], clock: ManualClock) -> TicketStore:
    return TicketStore(engine_factory(), TicketPolicy(), clock)


def test_full_loop_records_history_with_who_when_and_note(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding()).ticket_id
    clock.advance(minutes=5)
    assert store.assign(ticket_id, "lift-team", "ann", Role.ENGINEER, "on it").state == "dispatched"
    clock.advance(minutes=20)
    store.transition(ticket_id, "acknowledged", "bob", Role.ENGINEER, "on my way")
    clock.advance(hours=2)
    store.transition(ticket_id, "rectified", "bob", Role.ENGINEER, "closer replaced")
    clock.advance(hours=1)
    store.transition(ticket_id, "verified", "qa", Role.QUALITY, "checked on site")
    store.transition(ticket_id, "closed", "qa", Role.QUALITY, None)
    ticket = store.require(ticket_id)
    assert ticket.assignee == "lift-team" and ticket.state == "closed"
    history = [(h.actor, h.from_state, h.to_state, h.note) for h in store.history(ticket_id)]
    assert history == [
        ("facmon", None, "open", "held 90 s"),
        ("ann", "open", "dispatched", "on it"),
        ("bob", "dispatched", "acknowledged", "on my way"),
        ("bob", "acknowledged", "rectified", "closer replaced"),
        ("qa", "rectified", "verified", "checked on site"),
        ("qa", "verified", "closed", None),
    ]
    times = [h.at.replace(tzinfo=UTC) for h in store.history(ticket_id)]
    assert times[1] - times[0] == timedelta(minutes=5)
    assert ticket.verification == {"method": "manual", "by": "qa", "note": "checked on site"}


@pytest.mark.parametrize(
    ("path", "bad", "allowed"),
    [
        ([], "rectified", ["closed", "dispatched"]),
        (["dispatched"], "verified", ["acknowledged", "closed", "rectified"]),
        (["dispatched", "acknowledged"], "verified", ["closed", "dispatched", "rectified"]),
        (["dispatched", "rectified"], "closed", ["reopened", "verified"]),
        ([], "open", ["closed", "dispatched"]),
    ],
)
def test_illegal_transitions_name_the_allowed_states(
    store: TicketStore, path: list[str], bad: str, allowed: list[str]
) -> None:
    ticket_id = store.record(finding()).ticket_id
    for state in path:
        store.transition(ticket_id, state, "x", Role.QUALITY, "n")
    with pytest.raises(IllegalTransition) as error:
        store.transition(ticket_id, bad, "x", Role.ADMIN, "n")
    assert error.value.allowed == allowed


def test_roles_and_notes_are_enforced(store: TicketStore) -> None:
    ticket_id = store.record(finding()).ticket_id
    with pytest.raises(NotPermitted):
        store.transition(ticket_id, "dispatched", "v", Role.VIEWER)
    store.transition(ticket_id, "dispatched", "e", Role.ENGINEER)
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER)
    with pytest.raises(NotPermitted):
        store.transition(ticket_id, "verified", "e", Role.ENGINEER, "looks fine")
    with pytest.raises(NoteRequired):
        store.transition(ticket_id, "verified", "q", Role.QUALITY, "  ")


@pytest.mark.parametrize(
    ("severity", "dispatch_after", "rectify_after"),
    [
        (Severity.CRITICAL, timedelta(minutes=15), timedelta(hours=4)),
        (Severity.MAJOR, timedelta(hours=4), timedelta(hours=72)),
        (Severity.MINOR, timedelta(hours=48), timedelta(days=7)),
    ],
)
def test_sla_breaches_escalate_once_each(
    store: TicketStore,
    clock: ManualClock,
    severity: Severity,
    dispatch_after: timedelta,
    rectify_after: timedelta,
) -> None:
    ticket_id = store.record(finding(severity)).ticket_id
    ticket = store.require(ticket_id)
    assert ticket.dispatch_due_at.replace(tzinfo=UTC) == T0 + dispatch_after
    clock.set(T0 + dispatch_after - timedelta(seconds=1))
    assert store.escalate_overdue() == []
    clock.set(T0 + dispatch_after + timedelta(seconds=1))
    breaches = store.escalate_overdue()
    assert [(b.ticket_id, b.stage) for b in breaches] == [(ticket_id, "dispatch")]
    assert store.escalate_overdue() == []  # counted once
    escalated = store.require(ticket_id)
    assert escalated.dispatch_breached and escalated.escalation_level == 1
    assert (
        escalated.severity
        == {"minor": "major", "major": "critical", "critical": "critical"}[severity.value]
    )
    store.assign(ticket_id, "team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    clock.set(T0 + rectify_after + timedelta(seconds=1))
    assert [b.stage for b in store.escalate_overdue()] == ["rectify"]
    assert store.require(ticket_id).escalation_level == 2
    with Session(store.engine) as session:
        types = session.scalars(
            select(OutboxEvent.event_type).where(OutboxEvent.sink == "webhook")
        ).all()
    assert types.count("escalated") == 2


def _close(store: TicketStore, ticket_id: int) -> None:
    """The whole loop: dispatched, rectified, re-checked, closed out (a real fault)."""
    store.assign(ticket_id, "team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    store.transition(ticket_id, "verified", "q", Role.QUALITY, "checked on site")
    store.transition(ticket_id, "closed", "q", Role.QUALITY, None)


def test_repeat_faults_earn_yellow_then_red_card(store: TicketStore, clock: ManualClock) -> None:
    first = store.record(finding()).ticket_id
    _close(store, first)
    clock.advance(days=2)  # past the 24 h reopen grace, within the 30-day repeat window
    second = store.record(finding())
    assert second.opened and second.repeat_count == 2
    assert store.require(second.ticket_id).card == "yellow"
    _close(store, second.ticket_id)
    clock.advance(days=3)
    third = store.record(finding())
    ticket = store.require(third.ticket_id)
    assert (ticket.repeat_count, ticket.card) == (3, "red")
    assert ticket.previous_ticket_ids == [first, second.ticket_id]
    chronic = store.chronic()
    assert [(c["device_id"], c["fault_type"], c["repeat_count"]) for c in chronic] == [
        ("door-9", "door_held_open", 3)
    ]
    _close(store, third.ticket_id)
    clock.advance(days=40)
    fresh = store.record(finding())
    assert fresh.repeat_count == 1 and store.require(fresh.ticket_id).card == "none"


def test_fault_returning_within_grace_reopens_instead_of_new_ticket(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding()).ticket_id
    _close(store, ticket_id)
    clock.advance(hours=3)
    again = store.record(finding())
    assert (again.ticket_id, again.opened, again.reopened) == (ticket_id, False, True)
    ticket = store.require(ticket_id)
    assert ticket.state == "reopened" and ticket.reopen_count == 1 and ticket.occurrences == 2
    assert store.count() == 1


def test_fault_returning_during_verification_reopens(store: TicketStore) -> None:
    ticket_id = store.record(finding()).ticket_id
    store.assign(ticket_id, "team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    again = store.record(finding())
    assert again.reopened and again.ticket_id == ticket_id
    assert store.require(ticket_id).state == "reopened"
    assert store.history(ticket_id)[-1].note is not None
    assert "returned during verification" in (store.history(ticket_id)[-1].note or "")


def test_findings_while_dispatched_are_suppressed_into_the_ticket(store: TicketStore) -> None:
    ticket_id = store.record(finding()).ticket_id
    store.assign(ticket_id, "team", "e", Role.ENGINEER, None)
    for _ in range(3):
        result = store.record(finding())
        assert result.ticket_id == ticket_id and not result.opened and not result.reopened
    ticket = store.require(ticket_id)
    assert ticket.state == "dispatched" and ticket.occurrences == 4


def test_severity_override_moves_deadlines(store: TicketStore) -> None:
    ticket_id = store.record(finding(Severity.MINOR)).ticket_id
    ticket = store.set_severity(ticket_id, "critical", "q", Role.QUALITY, "residents trapped")
    assert ticket.severity == "critical" and ticket.detector_severity == "minor"
    assert ticket.dispatch_due_at.replace(tzinfo=UTC) == T0 + timedelta(minutes=15)
