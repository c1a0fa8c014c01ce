"""A device is (site, device_id): door-1 in two sites has its own tickets, repeats and
verification, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import ManualClock, utcnow
from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from quality.tickets import Ticket, TicketStore
from quality.tickets.lifecycle import Role, State
from quality.verification import TelemetryVerifier

NORTH = DeviceRef("north", "b1", "access", "door-1")
SOUTH = DeviceRef("south", "b9", "access", "door-1")


def held_open(device: DeviceRef, onset_ms: int = 1_000) -> Finding:
    return Finding(
        device=device,
        fault_type="door_held_open",
        severity=Severity.MAJOR,
        detector="access_door_held_open",
        detector_version="1",
        onset_ms=onset_ms,
        summary="door held open 300 s",
        evidence={"metric": "held_open_s", "value": 300.0, "threshold": 120.0},
    )


def test_one_id_in_two_sites_opens_two_tickets_and_each_dedups_alone(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    north, south = store.record(held_open(NORTH)), store.record(held_open(SOUTH))
    assert north.opened and south.opened and north.ticket_id != south.ticket_id
    again = store.record(held_open(SOUTH, onset_ms=2_000))
    assert not again.opened and again.ticket_id == south.ticket_id
    tickets = {t.site: t for t in store.list()}
    assert {site: t.occurrences for site, t in tickets.items()} == {"north": 1, "south": 2}
    assert tickets["south"].building == "b9"


def test_the_database_holds_one_active_ticket_per_site_device_and_fault(
    engine_factory: Callable[[], Engine],
) -> None:
    engine = engine_factory()
    store = TicketStore(engine)
    opened = store.require(store.record(held_open(NORTH)).ticket_id)

    def copy_to(site: str) -> None:
        with Session(engine) as session:
            columns = {c.key: getattr(opened, c.key) for c in Ticket.__table__.columns}
            session.add(Ticket(**{**columns, "id": None, "site": site}))
            session.commit()

    copy_to("south")  # another site: allowed
    with pytest.raises(IntegrityError):
        copy_to("north")  # a second active ticket of north's door-1: refused


def test_a_closed_ticket_makes_a_repeat_only_in_its_own_site(
    engine_factory: Callable[[], Engine],
) -> None:
    engine = engine_factory()
    store = TicketStore(engine, clock=ManualClock(utcnow()))
    first = store.record(held_open(NORTH))
    with Session(engine) as session:
        session.execute(
            update(Ticket)
            .where(Ticket.id == first.ticket_id)
            .values(state=State.CLOSED.value, closed_at=utcnow() - timedelta(days=2))
        )
        session.commit()
    south = store.require(store.record(held_open(SOUTH)).ticket_id)
    north = store.require(store.record(held_open(NORTH)).ticket_id)
    assert (south.repeat_count, south.previous_ticket_ids) == (1, [])
    assert (north.repeat_count, north.previous_ticket_ids) == (2, [first.ticket_id])


class Judge:
    name = "access_door_held_open"
    version = "1"

    def __init__(self) -> None:
        self.active: bool | None = False

    def fault_active(self) -> bool | None:
        return self.active

    def relearn(self, now_ms: int) -> None:
        pass


class Bank:
    """Each site's door-1 has its own judge, as the detector bank keeps them."""

    def __init__(self) -> None:
        self.judges = {NORTH.site: Judge(), SOUTH.site: Judge()}

    def detector(self, device: DeviceRef, fault_type: str) -> Judge | None:
        return self.judges[device.site] if fault_type == "door_held_open" else None


def test_verification_watches_the_rectified_sites_device_only(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    north = store.record(held_open(NORTH)).ticket_id
    south = store.record(held_open(SOUTH)).ticket_id
    for target in (State.DISPATCHED, State.RECTIFIED):
        store.transition(north, target, "tech", Role.ADMIN, "done", assignee="crew")
    bank = Bank()
    bank.judges["south"].active = True  # south's door is still held open: no matter here
    verifier = TelemetryVerifier(store, bank)
    verifier.refresh()
    start = verifier._watch[("north", "door-1")][0].rectified_ms + 1
    assert ("south", "door-1") not in verifier._watch
    closed = {"door_open": False, "held_open_s": 0.0}
    steps = range(0, verifier.window_ms + 2_000, 1_000)
    for step in steps:  # only south's door-1 reports: north's ticket waits
        verifier.observe(Sample(SOUTH, start + step, step, closed))
    assert verifier.verified == []
    for step in steps:
        verifier.observe(Sample(NORTH, start + step, step, closed))
    assert verifier.verified == [north]
    assert store.require(north).state == State.VERIFIED
    assert store.require(south).state == State.OPEN


def test_chronic_equipment_is_listed_per_site(engine_factory: Callable[[], Engine]) -> None:
    engine = engine_factory()
    store = TicketStore(engine)
    ids = [store.record(held_open(device)).ticket_id for device in (NORTH, SOUTH)]
    with Session(engine) as session:
        session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(card="red"))
        session.commit()
    assert sorted((row["site"], row["device_id"]) for row in store.chronic()) == [
        ("north", "door-1"),
        ("south", "door-1"),
    ]
