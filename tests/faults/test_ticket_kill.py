"""Tickets and the webhook outbox survive a SIGKILL at any point of the work.

A child process runs the ticket side of ingest (`ticket_workload`): it records
findings, escalates, and delivers the outbox to a real HTTP receiver. It is
killed at the k-th kill point (before or after a statement, before a commit or
a webhook request): for k over every commit and request by default, over every
point with FACMON_TICKET_KILL_POINTS=all. It is also killed while the receiver
holds a webhook request. Then it starts again from the beginning, as ingest
does when the broker redelivers the messages it never acknowledged, and runs
to the end. Afterwards there is exactly one ticket per (device, fault type),
no occurrence is lost or applied twice, and every event reached the receiver,
repeats only ever under the same event id.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from facmon.schema import create_schema
from quality.delivery import verify_signature
from quality.tickets.models import Ticket, TicketOccurrence
from quality.tickets.outbox import OutboxEvent
from tests.conftest import unique
from tests.databases import POSTGRES_URL
from tests.faults import ticket_workload
from tests.faults.ticket_workload import SECRET, Job, engine_for, expected_occurrences
from tests.quality.delivery.receiver import Receiver, Request

# "all" kills at every point; by default, at every commit and send (see `kill_points`).
KILL_POINTS = os.environ.get("FACMON_TICKET_KILL_POINTS", "boundaries")
CHILD_TIMEOUT_S = 60.0

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Database:
    url: str
    schema: str | None
    engine: Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Database]]:
    """Makes an empty database per call (a SQLite file, or a PostgreSQL schema)."""
    made: list[Database] = []
    admin = create_engine(POSTGRES_URL) if request.param == "postgresql" else None

    def fresh() -> Database:
        if admin is None:
            url = f"sqlite:///{tmp_path / unique('tickets')}.sqlite"
            database = Database(url, None, engine_for(url, None))
        else:
            schema = unique("kill").replace("-", "_")
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            database = Database(POSTGRES_URL, schema, engine_for(POSTGRES_URL, schema))
        made.append(database)
        create_schema(database.engine)
        return database

    yield fresh
    for database in made:
        database.engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{database.schema}" CASCADE'))
    if admin is not None:
        admin.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def processes() -> ForkServerContext:
    """Children forked from a server that has the workload imported: each starts in
    milliseconds, and with no threads or connections inherited from pytest."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", ticket_workload.__name__])
    return context


class KillOnRequest:
    """A receiver policy: takes the `target`-th request of a run, then SIGKILLs the
    sender before answering, so the event is received but never marked delivered."""

    def __init__(self, target: int, first_request: int) -> None:
        self.target = first_request + target
        self.pid = 0
        self.started = threading.Event()
        self.killed_event_id = ""

    def __call__(self, event_id: str, earlier_requests: int) -> int:
        if earlier_requests == self.target:
            self.started.wait(CHILD_TIMEOUT_S)  # the pid is set right after the fork
            self.killed_event_id = event_id
            os.kill(self.pid, signal.SIGKILL)
        return 200


def always_ok(_event_id: str, _earlier_requests: int) -> int:
    return 200


@dataclass
class Harness:
    """Runs the workload in child processes against fresh databases and one receiver."""

    context: ForkServerContext
    fresh_database: Callable[[], Database]
    receiver: Receiver
    result: Path
    killed_event_id: str = ""

    def run(self, database: Database, run: int, kill_at: int = 0) -> int:
        """Run the workload to its end or its kill; the exit code."""
        job = Job(database.url, database.schema, self.receiver.url, str(self.result), run, kill_at)
        process = self.context.Process(target=ticket_workload.run, args=(job,), daemon=True)
        process.start()
        if isinstance(self.receiver.policy, KillOnRequest):
            assert process.pid is not None
            self.receiver.policy.pid = process.pid
            self.receiver.policy.started.set()
        process.join(CHILD_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()
            pytest.fail(f"the workload still ran after {CHILD_TIMEOUT_S} s")
        assert process.exitcode is not None
        return process.exitcode

    def calibrate(self) -> tuple[list[str], int]:
        """One run without a kill, then a restart of it (the broker redelivers what was
        processed but not yet acknowledged): (the kinds of the kill points it passes,
        the webhook requests it makes)."""
        database = self.fresh_database()
        first = len(self.receiver.snapshot())
        assert self.run(database, run=0) == 0
        outcome = json.loads(self.result.read_text())
        assert outcome["pending"] == 0
        requests = self.receiver.snapshot()[first:]
        assert_complete(database.engine, requests, {})
        assert self.run(database, run=1) == 0
        assert_complete(database.engine, self.receiver.snapshot()[first:], expected_occurrences())
        return list(outcome["points"]), len(requests)

    def kill_and_restart(self, kill_at: int = 0, on_request: int = -1) -> set[str]:
        """Kill a run at a kill point or at a webhook request, restart it from the first
        finding, check everything; return the events the receiver had but the outbox had
        not marked delivered at the kill."""
        database = self.fresh_database()
        first = len(self.receiver.snapshot())
        if on_request >= 0:
            self.receiver.policy = KillOnRequest(on_request, first)
        exitcode = self.run(database, run=0, kill_at=kill_at)
        if isinstance(self.receiver.policy, KillOnRequest):
            self.killed_event_id = self.receiver.policy.killed_event_id
        self.receiver.policy = always_ok
        assert exitcode == -signal.SIGKILL, f"not killed (kill point {kill_at}, {on_request=})"

        committed_before = assert_consistent(database.engine)
        delivered = {row.event_id for row in outbox(database.engine) if row.delivered_at}
        in_flight = {r.event_id for r in self.receiver.snapshot()[first:]} - delivered

        exitcode = self.run(database, run=1)
        assert exitcode == 0, f"the restarted workload failed (exit code {exitcode})"
        assert_complete(database.engine, self.receiver.snapshot()[first:], committed_before)
        database.engine.dispose()
        return in_flight


@pytest.fixture
def harness(
    processes: ForkServerContext,
    fresh_database: Callable[[], Database],
    receiver: Receiver,
    tmp_path: Path,
) -> Harness:
    return Harness(processes, fresh_database, receiver, tmp_path / "result.json")


# -- what the database and the receiver hold ----------------------------------


def occurrence_rows(engine: Engine) -> dict[int, int]:
    """Occurrence rows per ticket id: the findings appended after the one that opened it."""
    with Session(engine) as session:
        rows = session.execute(
            select(TicketOccurrence.ticket_id, func.count()).group_by(TicketOccurrence.ticket_id)
        ).all()
    return {ticket_id: count for ticket_id, count in rows}


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)).all())


def outbox(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all())


def assert_consistent(engine: Engine) -> dict[Key, int]:
    """What must hold at every instant, even right after a kill: each ticket's counter
    matches its occurrence rows, no (device, fault) has two tickets, and each ticket has
    exactly one `opened` event (ticket and event commit together or not at all).
    Returns the occurrences committed per key."""
    all_tickets = tickets(engine)
    keys = Counter((ticket.device_id, ticket.fault_type) for ticket in all_tickets)
    assert [key for key, count in keys.items() if count > 1] == [], "a duplicated ticket"
    rows = occurrence_rows(engine)
    for ticket in all_tickets:
        assert ticket.occurrences == 1 + rows.get(ticket.id, 0), (
            f"ticket {ticket.id}: counter and occurrence rows disagree"
        )
    opened = Counter(row.ticket_id for row in outbox(engine) if row.event_type == "opened")
    assert opened == Counter(ticket.id for ticket in all_tickets), (
        "every ticket has exactly one opened event, and no event lacks its ticket"
    )
    return {(ticket.device_id, ticket.fault_type): ticket.occurrences for ticket in all_tickets}


def assert_complete(
    engine: Engine, requests: list[Request], committed_before: dict[Key, int]
) -> None:
    """After the restart ran to the end: one ticket per expected (device, fault), every
    finding of the restart counted on top of what the killed run had committed, and
    every event at the receiver, repeated only under its own id and bytes."""
    expected = expected_occurrences()
    committed = assert_consistent(engine)
    assert sorted(committed) == sorted(expected), "exactly one ticket per (device, fault type)"
    for key, count in expected.items():
        assert committed[key] == committed_before.get(key, 0) + count, (
            f"{key}: occurrences lost or applied twice"
        )

    rows = outbox(engine)
    assert [row.event_id for row in rows if row.delivered_at is None] == [], "events left pending"
    by_ticket: dict[int, list[OutboxEvent]] = defaultdict(list)
    for row in rows:
        by_ticket[row.ticket_id].append(row)
    for ticket in tickets(engine):
        # Critical tickets miss their 15-minute dispatch deadline once; others never.
        escalated = ["escalated"] if ticket.detector_severity == "critical" else []
        assert [row.event_type for row in by_ticket[ticket.id]] == ["opened", *escalated]

    accepted = [request for request in requests if 200 <= request.status < 300]
    stored = {row.event_id: row.payload.encode("utf-8") for row in rows}
    assert {request.event_id for request in accepted} == set(stored), (
        "every event reached the receiver, and nothing else did"
    )
    for request in requests:
        assert request.body == stored.get(request.event_id), "a repeat carries the same event"
        assert verify_signature(SECRET, request.body, request.signature, now=request.received_at)
    seen: dict[int, list[str]] = defaultdict(list)
    for request in accepted:
        if request.event_id not in seen[request.ticket_id]:
            seen[request.ticket_id].append(request.event_id)
    assert seen == {
        ticket_id: [row.event_id for row in ticket_rows]
        for ticket_id, ticket_rows in by_ticket.items()
    }, "a receiver deduplicating by id sees each ticket's events once and in order"


def kill_points(kinds: list[str]) -> list[int]:
    """The kill points to try (numbered from 1), by default one per distinct durable
    state: every `commit` (the transaction is lost, all before it kept) and every `send`
    (the claim committed, the request not sent). A kill elsewhere leaves the same state
    as one of these: what is uncommitted is rolled back whichever statement it stopped."""
    if KILL_POINTS == "all":
        return list(range(1, len(kinds) + 1))
    return [number for number, kind in enumerate(kinds, start=1) if kind in ("commit", "send")]


# -- the tests ----------------------------------------------------------------


def test_killed_at_any_database_operation_loses_and_doubles_nothing(harness: Harness) -> None:
    kinds, _ = harness.calibrate()
    assert len(kinds) > 100, "the workload should be long enough to be worth killing"
    points = kill_points(kinds)
    in_flight = [kill_at for kill_at in points if harness.kill_and_restart(kill_at=kill_at)]
    # Killed between a webhook's 2xx and the UPDATE that marks its row delivered.
    assert in_flight, "no kill point fell between a webhook's receipt and its outbox update"


def test_killed_while_the_receiver_takes_a_webhook_resends_it_under_its_id(
    harness: Harness,
) -> None:
    _, requests = harness.calibrate()
    assert requests == 8, "six tickets opened, two of them escalated"
    for target in range(requests):
        first = len(harness.receiver.snapshot())
        in_flight = harness.kill_and_restart(on_request=target)
        assert in_flight == {harness.killed_event_id}
        repeats = [r for r in harness.receiver.snapshot()[first:] if r.event_id in in_flight]
        assert len(repeats) == 2, "received before the kill, and again after the restart"
