"""The loop's clocks and cards on real databases: fresh deadlines after a reopening, the
acknowledge step (接单) and its clock, the re-check clock (复核), false alarms that earn no
card, and cards per equipment, contractor and team."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets.lifecycle import IllegalTransition, NoteRequired, NotPermitted, Role
from quality.tickets.models import Ticket
from quality.tickets.policy import Deadlines, TicketPolicy
from quality.tickets.store import IMPLICIT_ACKNOWLEDGE_NOTE, TicketFilter, TicketStore

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
LIFT = DeviceRef("hq", "b1", "elevator", "lift-2")


def finding(severity: Severity = Severity.MAJOR, device: DeviceRef = LIFT) -> Finding:
    return Finding(device, "door_slowing", severity, "door", "1", 1, "door slow", {"s": 4.1})


def utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(engine_factory: Callable[[], Engine], clock: ManualClock) -> TicketStore:
    return TicketStore(engine_factory(), TicketPolicy(), clock)


def close_out(store: TicketStore, ticket_id: int, **party: str) -> None:
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None, **party)
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    store.transition(ticket_id, "verified", "q", Role.QUALITY, "checked on site")
    store.transition(ticket_id, "closed", "q", Role.QUALITY, None)


def dismiss(store: TicketStore, ticket_id: int) -> Ticket:
    return store.transition(ticket_id, "closed", "q", Role.QUALITY, "false alarm: door propped")


# -- 1. a reopened ticket starts its clocks afresh ----------------------------------------


def test_a_relapse_after_close_gets_fresh_deadlines_not_a_double_breach(
    store: TicketStore, clock: ManualClock
) -> None:
    """Fixed on time, closed on day 3, relapsed 4 h later: the reopened ticket used to be
    escalated at once for a dispatch and a rectify breach (major -> critical)."""
    ticket_id = store.record(finding(Severity.MAJOR)).ticket_id
    clock.set(T0 + timedelta(hours=1))
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    clock.set(T0 + timedelta(hours=20))  # rectified well within the 72 h
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "door operator adjusted")
    clock.set(T0 + timedelta(hours=22))
    store.transition(ticket_id, "verified", "q", Role.QUALITY, "checked")
    clock.set(T0 + timedelta(days=2, hours=22))  # closed on day 3
    store.transition(ticket_id, "closed", "q", Role.QUALITY, None)
    assert store.escalate_overdue() == []

    relapse = T0 + timedelta(days=2, hours=26)  # 4 h later: past both old deadlines
    clock.set(relapse)
    result = store.record(finding(Severity.MAJOR))
    assert (result.ticket_id, result.reopened) == (ticket_id, True)
    assert store.escalate_overdue() == []
    ticket = store.require(ticket_id)
    assert (ticket.state, ticket.severity, ticket.escalation_level) == ("reopened", "major", 0)
    assert not ticket.dispatch_breached and not ticket.rectify_breached
    assert utc(ticket.reopened_at) == relapse
    assert utc(ticket.dispatch_due_at) == relapse + timedelta(hours=4)
    assert utc(ticket.rectify_due_at) == relapse + timedelta(hours=72)
    assert ticket.acknowledge_due_at is None and ticket.recheck_due_at is None
    assert ticket.dispatched_at is None and ticket.acknowledged_at is None

    # The fresh clocks run and breach as any other: dispatch first, once.
    clock.set(relapse + timedelta(hours=4, seconds=1))
    assert [(b.stage, b.severity) for b in store.escalate_overdue()] == [("dispatch", "critical")]
    assert store.escalate_overdue() == []


def test_a_fault_back_during_recheck_restarts_the_clocks_too(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding(Severity.MAJOR)).ticket_id
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    clock.set(T0 + timedelta(hours=70))
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    clock.set(T0 + timedelta(hours=73))
    assert store.record(finding(Severity.MAJOR)).reopened
    assert store.escalate_overdue() == []
    ticket = store.require(ticket_id)
    assert utc(ticket.rectify_due_at) == T0 + timedelta(hours=73 + 72)
    assert ticket.recheck_due_at is None and ticket.rectified_at is None


def test_a_severity_change_after_reopening_counts_from_the_reopening(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding(Severity.MINOR)).ticket_id
    close_out(store, ticket_id)
    reopened_at = T0 + timedelta(days=5)
    clock.set(reopened_at)
    store.transition(ticket_id, "reopened", "q", Role.QUALITY, "still slow")
    ticket = store.set_severity(ticket_id, "critical", "q", Role.QUALITY, "residents complain")
    assert utc(ticket.dispatch_due_at) == reopened_at + timedelta(minutes=15)
    assert store.escalate_overdue() == []


# -- 2. the acknowledge step (接单) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "acknowledge_within"),
    [
        (Severity.CRITICAL, timedelta(minutes=15)),
        (Severity.MAJOR, timedelta(hours=2)),
        (Severity.MINOR, timedelta(hours=24)),
    ],
)
def test_acknowledge_deadline_counts_from_dispatch_and_breaches_once(
    store: TicketStore, clock: ManualClock, severity: Severity, acknowledge_within: timedelta
) -> None:
    ticket_id = store.record(finding(severity)).ticket_id
    dispatched = T0 + timedelta(minutes=10)
    clock.set(dispatched)
    ticket = store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    assert utc(ticket.acknowledge_due_at) == dispatched + acknowledge_within
    clock.set(dispatched + acknowledge_within)
    assert store.escalate_overdue() == []
    clock.set(dispatched + acknowledge_within + timedelta(seconds=1))
    breaches = store.escalate_overdue()
    assert [(b.ticket_id, b.stage) for b in breaches] == [(ticket_id, "acknowledge")]
    assert store.escalate_overdue() == []
    late = store.require(ticket_id)
    assert late.acknowledge_breached and late.escalation_level == 1
    assert [t.id for t in store.search(TicketFilter(overdue=True))[0]] == [ticket_id]
    late = store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER, "on site")
    assert late.state == "acknowledged"
    assert utc(late.acknowledged_at) == dispatched + acknowledge_within + timedelta(seconds=1)


def test_acknowledged_in_time_stops_the_acknowledge_clock(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding(Severity.MAJOR)).ticket_id
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    clock.advance(minutes=30)
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    clock.advance(hours=3)  # past the 2 h acknowledge deadline, before the rest
    assert store.escalate_overdue() == []


def test_rectifying_a_dispatched_ticket_acknowledges_it_implicitly(
    store: TicketStore, clock: ManualClock
) -> None:
    """Clients that predate 接单 go straight from dispatched to rectified."""
    ticket_id = store.record(finding()).ticket_id
    store.assign(ticket_id, "lift-team", "ann", Role.ENGINEER, None)
    clock.advance(minutes=40)
    ticket = store.transition(ticket_id, "rectified", "bob", Role.ENGINEER, "fixed")
    assert ticket.state == "rectified"
    assert utc(ticket.acknowledged_at) == T0 + timedelta(minutes=40)
    moves = [(h.actor, h.from_state, h.to_state, h.note) for h in store.history(ticket_id)][1:]
    assert moves == [
        ("ann", "open", "dispatched", None),
        ("bob", "dispatched", "dispatched", IMPLICIT_ACKNOWLEDGE_NOTE),
        ("bob", "dispatched", "rectified", "fixed"),
    ]


def test_reassigning_an_acknowledged_ticket_dispatches_it_again(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding()).ticket_id
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None, contractor="Otis", team="A")
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    clock.advance(hours=1)
    ticket = store.assign(ticket_id, "night-team", "e", Role.ENGINEER, "shift change", team="B")
    assert (ticket.state, ticket.assignee, ticket.contractor, ticket.team) == (
        "dispatched",
        "night-team",
        "Otis",
        "B",
    )
    assert ticket.acknowledged_at is None
    assert utc(ticket.acknowledge_due_at) == T0 + timedelta(hours=3)


def test_lifecycle_errors_say_it_in_both_languages(store: TicketStore) -> None:
    ticket_id = store.record(finding()).ticket_id
    with pytest.raises(IllegalTransition) as illegal:
        store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    assert str(illegal.value) == (
        "cannot go from open to acknowledged; allowed next: closed, dispatched / "
        "工单不能从待派单 (open)转到已接单 (acknowledged)；"
        "可转到：已销项 (closed)、已派单 (dispatched)"
    )
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    with pytest.raises(NotPermitted, match="engineer 角色不能把工单转到已复核 \\(verified\\)"):
        store.transition(ticket_id, "verified", "e", Role.ENGINEER, "looks fine")
    with pytest.raises(NoteRequired, match="须填写备注"):
        store.transition(ticket_id, "verified", "q", Role.QUALITY)


# -- 3. the re-check clock (复核) ------------------------------------------------------------


def test_recheck_deadline_counts_from_rectification_and_breaches(
    store: TicketStore, clock: ManualClock
) -> None:
    ticket_id = store.record(finding(Severity.MAJOR)).ticket_id
    store.assign(ticket_id, "lift-team", "e", Role.ENGINEER, None)
    store.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    rectified = T0 + timedelta(hours=5)
    clock.set(rectified)
    ticket = store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    assert utc(ticket.recheck_due_at) == rectified + timedelta(hours=24)
    clock.set(rectified + timedelta(hours=24))
    assert store.escalate_overdue() == []
    clock.set(rectified + timedelta(hours=24, seconds=1))
    assert [(b.stage, b.severity) for b in store.escalate_overdue()] == [("recheck", "critical")]
    assert store.require(ticket_id).recheck_breached
    # Re-checked at last: no clock runs any more.
    store.transition(ticket_id, "verified", "q", Role.QUALITY, "checked")
    clock.advance(days=30)
    assert store.escalate_overdue() == []


def test_recheck_and_acknowledge_deadlines_are_configurable(
    engine_factory: Callable[[], Engine], clock: ManualClock
) -> None:
    fast = Deadlines(
        timedelta(hours=1), timedelta(hours=8), timedelta(minutes=5), timedelta(minutes=30)
    )
    store = TicketStore(engine_factory(), TicketPolicy(sla={"major": fast}), clock)
    ticket_id = store.record(finding(Severity.MAJOR)).ticket_id
    assert utc(store.assign(ticket_id, "t", "e", Role.ENGINEER, None).acknowledge_due_at) == (
        T0 + timedelta(minutes=5)
    )
    ticket = store.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    assert utc(ticket.recheck_due_at) == T0 + timedelta(minutes=30)


# -- 4. false alarms -----------------------------------------------------------------------


def test_a_dismissed_false_alarm_earns_no_card_and_is_no_repeat(
    store: TicketStore, clock: ManualClock
) -> None:
    first = store.record(finding()).ticket_id
    close_out(store, first)
    clock.advance(days=2)  # past the reopen grace, within the repeat window
    second = store.record(finding())
    assert store.require(second.ticket_id).card == "yellow"  # carded when it opened
    dismissed = dismiss(store, second.ticket_id)
    assert (dismissed.false_alarm, dismissed.card) == (True, "none")
    clock.advance(days=2)
    third = store.record(finding())
    ticket = store.require(third.ticket_id)
    # A repeat of the real fault, not of the false alarm: yellow, not red.
    assert (ticket.repeat_count, ticket.card, ticket.previous_ticket_ids) == (2, "yellow", [first])
    assert store.chronic() == []
    assert [(c["yellow"], c["red"], c["ticket_ids"]) for c in store.cards("equipment")] == [
        (1, 0, [third.ticket_id])
    ]


def test_false_alarms_alone_never_make_repeats_nor_reopen(
    store: TicketStore, clock: ManualClock
) -> None:
    ids = []
    for _ in range(3):
        result = store.record(finding())
        assert result.opened and not result.reopened and result.repeat_count == 1
        ids.append(result.ticket_id)
        dismiss(store, result.ticket_id)
        clock.advance(hours=3)  # within the reopen grace: still a fresh ticket
    assert len(set(ids)) == 3
    assert [store.require(i).card for i in ids] == ["none"] * 3
    assert store.cards("equipment") == [] and store.chronic() == []


def test_reopening_a_dismissed_ticket_by_hand_restores_its_card(
    store: TicketStore, clock: ManualClock
) -> None:
    first = store.record(finding()).ticket_id
    close_out(store, first)
    clock.advance(days=2)
    second = store.record(finding()).ticket_id
    dismiss(store, second)
    ticket = store.transition(second, "reopened", "q", Role.QUALITY, "it was real after all")
    assert (ticket.false_alarm, ticket.repeat_count, ticket.card) == (False, 2, "yellow")


# -- 5. cards per contractor and team -------------------------------------------------------


def test_cards_are_kept_per_equipment_contractor_and_team(
    store: TicketStore, clock: ManualClock
) -> None:
    other = DeviceRef("hq", "b2", "elevator", "lift-7")
    parties = [("Otis", "A"), ("Otis", "B"), ("Kone", "B")]
    for contractor, team in parties:
        ticket_id = store.record(finding()).ticket_id
        close_out(store, ticket_id, contractor=contractor, team=team)
        clock.advance(days=2)
    for _ in range(2):
        ticket_id = store.record(finding(device=other)).ticket_id
        close_out(store, ticket_id)  # dispatched naming no contractor or team
        clock.advance(days=2)
    lift2 = store.cards("equipment")
    assert [(c["device_id"], c["yellow"], c["red"]) for c in lift2] == [
        ("lift-2", 1, 1),
        ("lift-7", 1, 0),
    ]
    by_contractor = {c["contractor"]: (c["yellow"], c["red"]) for c in store.cards("contractor")}
    assert by_contractor == {"Kone": (0, 1), "Otis": (1, 0), None: (1, 0)}
    by_team = {c["team"]: (c["yellow"], c["red"]) for c in store.cards("team")}
    assert by_team == {"B": (1, 1), None: (1, 0)}
    assert store.cards("team", since=T0 + timedelta(days=5)) == [
        c for c in store.cards("team") if c["team"] is None
    ]
    with pytest.raises(ValueError, match="equipment, contractor, team"):
        store.cards("site")
