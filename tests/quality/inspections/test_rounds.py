"""Routes, rounds and manual findings on SQLite and PostgreSQL: a failed item opens a ticket
through the ticket store with its answer and photo as evidence, a skipped stop lowers the
round's completion, and nothing partial is kept when a step fails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contract.clock import ManualClock, aware
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.inspections.checklists import ChecklistItem, RouteCreate, Stop
from quality.inspections.errors import Conflict, Invalid, NotFound
from quality.inspections.manual import ManualReport, Where, open_manual
from quality.inspections.models import InspectionAnswer
from quality.inspections.rounds import Answer, RoundStore
from quality.inspections.routes_store import RouteStore
from quality.photos import FileBlobStore, PhotoLimits, PhotoStore, prepare
from quality.tickets.models import Ticket
from quality.tickets.policy import TicketPolicy
from quality.tickets.store import RecordResult, TicketStore
from tests.quality.inspections import samples

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
LEDGER = {("hq", "pump-1"): ("B2", "pump")}


def lookup(site: str, device_id: str) -> tuple[str, str] | None:
    return LEDGER.get((site, device_id))


def three_stops() -> RouteCreate:
    return RouteCreate(
        name="B2 plant room, daily",
        site="hq",
        stops=[
            Stop(
                device_id="pump-1",  # building and kind from the ledger
                items=[
                    ChecklistItem(
                        question="Outlet pressure",
                        kind="number",
                        minimum=0.2,
                        maximum=0.6,
                        unit="MPa",
                        category="leakage",
                        severity=Severity.MAJOR,
                    ),
                    ChecklistItem(question="No leaks on the seal", kind="pass_fail"),
                ],
            ),
            Stop(
                building="B2",
                floor="B2",
                place="stairwell",
                items=[
                    ChecklistItem(
                        question="Emergency light works",
                        kind="pass_fail",
                        category="lamp_failure",
                    )
                ],
            ),
            Stop(
                device_id="door-7",
                building="B2",
                kind="access",
                items=[ChecklistItem(question="Remarks", kind="text")],
            ),
        ],
    )


class Loop:
    def __init__(self, engine: Engine, root: Path, tickets: TicketStore | None = None) -> None:
        self.clock = ManualClock(T0)
        self.tickets = tickets or TicketStore(engine, TicketPolicy(), self.clock)
        self.tickets.clock = self.clock
        self.photos = PhotoStore(engine, FileBlobStore(root), "file", self.clock)
        self.routes = RouteStore(engine, lookup, self.clock)
        self.rounds = RoundStore(engine, self.tickets, self.photos, self.clock)
        self.engine = engine
        self.root = root

    def answers(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(InspectionAnswer)) or 0

    def tickets_count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Ticket)) or 0

    def files(self) -> int:
        return len([p for p in self.root.rglob("*") if p.is_file()])


@pytest.fixture
def loop(engine_factory: Callable[[], Engine], tmp_path: Path) -> Loop:
    return Loop(engine_factory(), tmp_path / "photos")


def test_a_route_of_three_stops_resolves_its_devices(loop: Loop) -> None:
    route = loop.routes.create(three_stops(), "quality-li")
    assert [len(stop["items"]) for stop in route["stops"]] == [2, 1, 1]
    assert (route["stops"][0]["building"], route["stops"][0]["kind"]) == ("B2", "pump")
    assert loop.routes.get(route["id"])["name"] == "B2 plant room, daily"
    with pytest.raises(Invalid) as unknown:
        loop.routes.create(
            RouteCreate(
                name="x",
                site="hq",
                stops=[Stop(device_id="ghost", items=[ChecklistItem(question="q", kind="text")])],
            ),
            "quality-li",
        )
    assert unknown.value.field == "stops.0.device_id"
    assert "设备台账" in unknown.value.message.zh


def test_a_round_with_a_failed_item_opens_a_ticket_with_answer_and_photo(loop: Loop) -> None:
    route = loop.routes.create(three_stops(), "quality-li")
    started = loop.rounds.start(route["id"], "inspector-wang")
    assert (started["stops_total"], started["completion"]) == (3, 0.0)
    round_id = started["id"]

    ok = loop.rounds.answer(round_id, Answer(0, 1, "pass", None, T0, "inspector-wang"), photos=[])
    assert (ok["passed"], ok["ticket_id"]) == (True, None)

    checked_at = T0 + timedelta(minutes=3)
    photo = prepare(samples.jpeg(gps=True), "photos[0]", PhotoLimits())
    failed = loop.rounds.answer(
        round_id,
        Answer(0, 0, "0.75", "gauge reads high", checked_at, "inspector-wang"),
        photos=[photo],
    )
    assert failed["passed"] is False
    assert failed["answered_at"] == checked_at
    assert len(failed["photos"]) == 1
    ticket_id = failed["ticket_id"]
    assert ticket_id is not None

    ticket = loop.tickets.require(ticket_id)
    assert (ticket.site, ticket.device_id, ticket.kind) == ("hq", "pump-1", "pump")
    assert (ticket.fault_type, ticket.severity) == ("leakage", "major")
    assert ticket.detector == "manual:inspector-wang"
    # The same SLA clocks as a detector's finding.
    assert aware(ticket.dispatch_due_at) == T0 + TicketPolicy().deadlines("major").dispatch
    evidence = ticket.evidence
    assert evidence["photos"] == failed["photos"]
    inspection = evidence["inspection"]
    assert (inspection["round_id"], inspection["stop"], inspection["item"]) == (round_id, 0, 0)
    assert (inspection["question"], inspection["answer"]) == ("Outlet pressure", "0.75")
    assert inspection["allowed"] == {"minimum": 0.2, "maximum": 0.6}
    assert inspection["answered_at"] == checked_at.isoformat()
    assert "Outlet pressure" in ticket.summary and "巡检" in ticket.summary
    assert loop.photos.content(failed["photos"][0])[1] == "image/jpeg"

    # A failed pass/fail item at a place opens a ticket on the place.
    lamp = loop.rounds.answer(round_id, Answer(1, 0, "fail", None, None, "wang"), photos=[])
    place_ticket = loop.tickets.require(lamp["ticket_id"])
    assert (place_ticket.kind, place_ticket.device_id) == ("place", "place:B2/B2/stairwell")
    assert place_ticket.evidence["location"]["place"] == "stairwell"


def test_a_skipped_stop_lowers_completion(loop: Loop) -> None:
    route = loop.routes.create(three_stops(), "quality-li")
    round_id = loop.rounds.start(route["id"], "wang")["id"]
    for stop, item, value in ((0, 0, "0.4"), (0, 1, "pass"), (2, 0, "all clean")):
        loop.rounds.answer(round_id, Answer(stop, item, value, None, None, "wang"), photos=[])
    loop.clock.advance(seconds=600)
    finished = loop.rounds.finish(round_id, "wang")
    assert finished["stops_answered"] == 2
    assert finished["stops_skipped"] == [1]
    assert finished["completion"] == pytest.approx(2 / 3)
    assert loop.tickets_count() == 0  # every answer passed
    # A second, complete round: over both, (2 + 3) / (3 + 3).
    second = loop.rounds.start(route["id"], "wang")["id"]
    for stop, item, value in ((0, 0, "0.4"), (1, 0, "pass"), (2, 0, "ok")):
        loop.rounds.answer(second, Answer(stop, item, value, None, None, "wang"), photos=[])
    assert loop.rounds.finish(second, "wang")["completion"] == 1.0
    rate, rounds, planned, done = loop.rounds.completion(T0, T0 + timedelta(days=1), "hq")
    assert (rate, rounds, planned, done) == (pytest.approx(5 / 6), 2, 6, 5)
    assert loop.rounds.completion(T0, T0 + timedelta(days=1), "elsewhere")[0] is None


def test_wrong_answers_are_refused_and_store_nothing(loop: Loop) -> None:
    route = loop.routes.create(three_stops(), "quality-li")
    round_id = loop.rounds.start(route["id"], "wang")["id"]
    photo = prepare(samples.png(), "photos[0]", PhotoLimits())
    cases = [
        (Answer(0, 0, "high", None, None, "wang"), Invalid, "value"),
        (Answer(0, 1, "maybe", None, None, "wang"), Invalid, "value"),
        (Answer(5, 0, "pass", None, None, "wang"), Invalid, "stop"),
        (Answer(0, 9, "pass", None, None, "wang"), Invalid, "item"),
        (Answer(0, 1, "pass", None, T0 + timedelta(hours=1), "wang"), Invalid, "answered_at"),
    ]
    for answer, error, field in cases:
        with pytest.raises(error) as refused:
            loop.rounds.answer(round_id, answer, photos=[photo])
        assert refused.value.field == field
    assert (loop.answers(), loop.photos.count(), loop.files()) == (0, 0, 0)
    loop.rounds.answer(round_id, Answer(0, 1, "pass", None, None, "wang"), photos=[])
    with pytest.raises(Conflict):
        loop.rounds.answer(round_id, Answer(0, 1, "fail", None, None, "wang"), photos=[photo])
    assert (loop.answers(), loop.photos.count(), loop.tickets_count()) == (1, 0, 0)
    loop.rounds.finish(round_id, "wang")
    with pytest.raises(Conflict):
        loop.rounds.finish(round_id, "wang")
    with pytest.raises(Conflict):
        loop.rounds.answer(round_id, Answer(2, 0, "late", None, None, "wang"), photos=[])
    with pytest.raises(NotFound):
        loop.rounds.start(999, "wang")
    with pytest.raises(Conflict):
        loop.routes.delete(route["id"])  # its rounds keep it


class BrokenTickets(TicketStore):
    def record(self, finding: Finding) -> RecordResult:
        raise RuntimeError("database went away")


def test_a_ticket_that_cannot_be_opened_leaves_no_answer_or_photo(
    engine_factory: Callable[[], Engine], tmp_path: Path
) -> None:
    engine = engine_factory()
    loop = Loop(engine, tmp_path / "photos", BrokenTickets(engine))
    route = loop.routes.create(three_stops(), "quality-li")
    round_id = loop.rounds.start(route["id"], "wang")["id"]
    photo = prepare(samples.jpeg(), "photos[0]", PhotoLimits())
    with pytest.raises(RuntimeError, match="went away"):
        loop.rounds.answer(round_id, Answer(0, 1, "fail", None, None, "wang"), photos=[photo])
    assert (loop.answers(), loop.photos.count(), loop.files()) == (0, 0, 0)
    # The slot is free again: the item can be answered once the store is back.
    loop.rounds.tickets = TicketStore(engine, TicketPolicy(), loop.clock)
    assert loop.rounds.answer(round_id, Answer(0, 1, "fail", None, None, "wang"), photos=[photo])[
        "ticket_id"
    ]


def test_a_manual_finding_joins_the_detector_ticket_of_the_same_fault(loop: Loop) -> None:
    detector = Finding(
        DeviceRef("hq", "B2", "pump", "pump-1"),
        "leakage",
        Severity.MAJOR,
        "pump_leakage",
        "3",
        1,
        "s",
    )
    opened = loop.tickets.record(detector)
    report = ManualReport(
        where=Where("hq", "B2", "pump", "pump-1"),
        category="leakage",
        severity=Severity.MINOR,
        description="water under the pump",
        reported_by="wang",
        observed_at=T0,
        photo_ids=("abc",),
    )
    joined = open_manual(loop.tickets, report)
    assert (joined.ticket_id, joined.opened) == (opened.ticket_id, False)
    ticket, occurrences = loop.tickets.get(opened.ticket_id) or (None, [])
    assert ticket is not None and ticket.occurrences == 2
    assert occurrences[-1].evidence["photos"] == ["abc"]
    assert occurrences[-1].evidence["detector"] == "manual:wang"


def test_two_answers_to_one_item_at_once_keep_one(loop: Loop) -> None:
    route = loop.routes.create(three_stops(), "quality-li")
    round_id = loop.rounds.start(route["id"], "wang")["id"]
    photo = prepare(samples.jpeg(), "photos[0]", PhotoLimits())
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def answer(user: str) -> None:
        barrier.wait()
        try:
            outcomes.append(
                loop.rounds.answer(round_id, Answer(0, 1, "fail", None, None, user), [photo])
            )
        except Conflict as conflict:
            outcomes.append(conflict)

    threads = [threading.Thread(target=answer, args=(user,)) for user in ("wang", "li")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "dict"]
    # The refused answer's photo is gone again; one answer, one ticket, one photo.
    assert (loop.answers(), loop.tickets_count(), loop.photos.count(), loop.files()) == (
        1,
        1,
        1,
        2,
    )
