"""The outbox dispatcher against a real HTTP receiver and real databases.

Time is a ManualClock, so "an hour of outage" takes as long as the attempts
themselves and every backoff is checked to the second.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from contract.clock import ManualClock, SystemClock
from contract.topics import DeviceRef
from facmon.embedded_broker import free_port
from observability.metrics import MetricsRegistry, parse_samples
from quality.delivery import (
    OutboxDispatcher,
    PendingEvent,
    SendResult,
    WebhookSender,
    backoff_seconds,
    verify_signature,
)
from quality.tickets import Role, Ticket, TicketStore
from quality.tickets.lifecycle import IllegalTransition
from quality.tickets.models import aware
from quality.tickets.store import TicketConflict
from tests.conftest import wait_until
from tests.quality.delivery.conftest import SECRET, finding, outbox_rows
from tests.quality.delivery.receiver import Receiver, Request

WEBHOOK_ONLY = ("webhook",)


def device(n: int) -> DeviceRef:
    return DeviceRef("hq", f"b{n % 2}", "pump", f"pump-{n:02d}")


def dispatch(store: TicketStore, ticket_id: int, assignee: str = "team-a") -> None:
    store.transition(
        ticket_id, "dispatched", actor="ann", role=Role.ENGINEER, note="x", assignee=assignee
    )


def expected_order(engine: Engine, sink: str = "webhook") -> dict[int, list[str]]:
    """Event ids per ticket in outbox (= commit) order."""
    order: dict[int, list[str]] = defaultdict(list)
    for row in outbox_rows(engine, sink):
        order[row.ticket_id].append(row.event_id)
    return dict(order)


def order_seen(requests: list[Request]) -> dict[int, list[str]]:
    order: dict[int, list[str]] = defaultdict(list)
    for request in requests:
        if request.event_id not in order[request.ticket_id]:
            order[request.ticket_id].append(request.event_id)
    return dict(order)


def test_backoff_is_exact_and_rows_wait_until_due(
    sqlite_engine: Engine, clock: ManualClock
) -> None:
    store = TicketStore(sqlite_engine, clock=clock, sinks=WEBHOOK_ONLY)
    store.record(finding(device(1)))
    sender = WebhookSender(f"http://127.0.0.1:{free_port()}/hook", SECRET, timeout_s=5)
    dispatcher = OutboxDispatcher(sqlite_engine, {"webhook": sender}, clock, max_backoff_s=300)
    try:
        expected_delays = [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        assert [backoff_seconds(n, 300) for n in range(1, 11)] == expected_delays
        assert dispatcher.run_once() == 0
        for attempts, delay in enumerate(expected_delays, start=1):
            [row] = outbox_rows(sqlite_engine)
            assert row.attempts == attempts
            assert row.delivered_at is None
            assert row.last_error is not None and "ConnectError" in row.last_error
            assert aware(row.next_attempt_at) == clock.now() + timedelta(seconds=delay)
            clock.advance(seconds=delay - 1)
            assert dispatcher.run_once() == 0
            assert outbox_rows(sqlite_engine)[0].attempts == attempts, "retried before due"
            clock.advance(seconds=1)
            assert dispatcher.run_once() == 0
        assert dispatcher.failures.value(sink="webhook") == len(expected_delays) + 1
        assert dispatcher.pending.value(sink="webhook") == 1
    finally:
        sender.close()


def test_an_hour_of_failures_and_outage_loses_nothing(
    sqlite_engine: Engine, clock: ManualClock, receiver: Receiver
) -> None:
    """HTTP 500 for the first attempts, then connection refused for 20 minutes, while
    tickets keep changing; after the hour everything has arrived, once, in order."""
    fail_first = 4
    receiver.policy = lambda _event_id, n: 500 if n < fail_first else 200
    store = TicketStore(sqlite_engine, clock=clock, sinks=WEBHOOK_ONLY)
    tickets = [store.record(finding(device(n))).ticket_id for n in range(3)]
    dispatch(store, tickets[0])
    dispatch(store, tickets[1])

    registry = MetricsRegistry()
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    dispatcher = OutboxDispatcher(sqlite_engine, {"webhook": sender}, clock, registry)
    try:
        for step in range(0, 3600, 15):
            minute = step / 60
            if minute == 5:
                receiver.stop()
                store.transition(tickets[0], "rectified", actor="bob", role=Role.ENGINEER)
                tickets.append(store.record(finding(device(3))).ticket_id)
            if minute == 25:
                receiver.start()
            if minute == 40:
                dispatch(store, tickets[3], "team-b")
            dispatcher.run_once()
            clock.advance(seconds=15)
    finally:
        sender.close()

    rows = outbox_rows(sqlite_engine)
    assert len(rows) == 8
    assert all(row.delivered_at is not None for row in rows), [
        (row.event_type, row.attempts, row.last_error) for row in rows
    ]
    # The refusal phase really happened and was retried through.
    assert any(row.last_error and "ConnectError" in row.last_error for row in rows)
    assert any(row.last_error and row.last_error.startswith("HTTP 500") for row in rows)

    requests = receiver.snapshot()
    accepted = receiver.accepted()
    by_id = {row.event_id: row for row in rows}
    assert sorted(request.event_id for request in accepted) == sorted(by_id), "lost or doubled"
    for request in requests:
        stored = by_id[request.event_id]
        assert request.body == stored.payload.encode(), "body differs from the stored payload"
        assert request.payload["event_id"] == request.event_id
        assert request.event_type == stored.event_type
        assert verify_signature(SECRET, request.body, request.signature)
        assert not verify_signature("wrong-secret", request.body, request.signature)
    retried = [
        event_id
        for event_id in by_id
        if sum(request.event_id == event_id for request in requests) > 1
    ]
    assert retried, "expected some event to be retried under the same event id"
    assert order_seen(requests) == expected_order(sqlite_engine)
    assert order_seen(accepted) == expected_order(sqlite_engine)

    attempts = sum(row.attempts for row in rows)
    assert dispatcher.delivered.value(sink="webhook") == len(rows)
    assert dispatcher.failures.value(sink="webhook") == attempts - len(rows) >= fail_first
    rendered = registry.render()
    assert list(parse_samples(rendered, "facmon_outbox_pending")) == [({"sink": "webhook"}, 0)]
    assert list(parse_samples(rendered, "facmon_outbox_delivered_total")) == [
        ({"sink": "webhook"}, 8)
    ]


def test_a_stuck_event_holds_back_only_its_own_ticket(
    sqlite_engine: Engine, clock: ManualClock, receiver: Receiver
) -> None:
    store = TicketStore(sqlite_engine, clock=clock, sinks=WEBHOOK_ONLY)
    stuck, other = (store.record(finding(device(n))).ticket_id for n in (1, 2))
    dispatch(store, stuck)
    dispatch(store, other)
    order = expected_order(sqlite_engine)
    stuck_opened, stuck_dispatched = order[stuck]
    rejections: dict[str, int] = defaultdict(int)

    def policy(event_id: str, _n: int) -> int:
        if event_id == stuck_opened and rejections[event_id] < 3:
            rejections[event_id] += 1
            return 500
        return 200

    receiver.policy = policy
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    dispatcher = OutboxDispatcher(sqlite_engine, {"webhook": sender}, clock)
    try:
        # The other ticket's two events go through in one round, the stuck one waits.
        assert dispatcher.run_once() == 2
        assert [r.event_id for r in receiver.accepted()] == order[other]
        assert stuck_dispatched not in {r.event_id for r in receiver.snapshot()}
        for delay in (2, 4):
            clock.advance(seconds=delay)
            assert dispatcher.run_once() == 0
        clock.advance(seconds=8)
        assert dispatcher.run_once() == 2  # opened, then its successor in the same round
    finally:
        sender.close()
    stuck_requests = [r.event_id for r in receiver.snapshot() if r.ticket_id == stuck]
    assert stuck_requests == [stuck_opened] * 4 + [stuck_dispatched]
    assert dispatcher.pending_count() == 0


def _refuse_outbox_inserts(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER outbox_refuse BEFORE INSERT ON outbox "
                    "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION outbox_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER outbox_refuse BEFORE INSERT ON outbox "
                    "FOR EACH ROW EXECUTE FUNCTION outbox_refuse()"
                )
            )


def _allow_outbox_inserts(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER outbox_refuse"))
        else:
            conn.execute(text("DROP TRIGGER outbox_refuse ON outbox"))


def _ticket_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_events_are_written_in_the_ticket_transaction(
    engine: Engine, clock: ManualClock, receiver: Receiver
) -> None:
    store = TicketStore(engine, clock=clock)  # both sinks
    ticket_id = store.record(finding(device(1))).ticket_id

    rows = outbox_rows(engine)
    assert sorted(row.sink for row in rows) == ["mqtt", "webhook"]
    assert {row.event_type for row in rows} == {"opened"}
    assert {row.ticket_id for row in rows} == {ticket_id}
    assert len({row.event_id for row in rows}) == 1, "one event id across sinks"
    opened: dict[str, Any] = json.loads(rows[0].payload)
    assert opened["event_id"] == rows[0].event_id
    assert opened["ticket"]["state"] == "open"
    assert aware(rows[0].created_at) == clock.now()

    clock.advance(minutes=3)
    dispatch(store, ticket_id)
    rows = outbox_rows(engine)
    assert [row.event_type for row in rows] == ["opened"] * 2 + ["transitioned"] * 2
    moved = json.loads(rows[-1].payload)
    assert moved["transition"] == {"from": "open", "to": "dispatched", "actor": "ann", "note": "x"}
    assert moved["ticket"]["assignee"] == "team-a"

    # A refused change writes no event ...
    with pytest.raises(IllegalTransition):
        store.transition(ticket_id, "verified", actor="ann", role=Role.QUALITY, note="no")
    assert len(outbox_rows(engine)) == 4
    # ... and a failing event write undoes the ticket change: one transaction.
    tickets_before = _ticket_count(engine)
    _refuse_outbox_inserts(engine)
    try:
        # SQLite reports the abort as an integrity error, which the store retries as a
        # dedup race before giving up; PostgreSQL's raised exception passes straight up.
        with pytest.raises((DBAPIError, TicketConflict)):
            store.record(finding(device(2)))
    finally:
        _allow_outbox_inserts(engine)
    assert _ticket_count(engine) == tickets_before
    assert len(outbox_rows(engine)) == 4

    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    dispatcher = OutboxDispatcher(engine, {"webhook": sender}, clock)
    try:
        assert dispatcher.run_once() == 2
    finally:
        sender.close()
    accepted = receiver.accepted()
    assert [r.event_type for r in accepted] == ["opened", "transitioned"]
    assert [r.payload["ticket"]["state"] for r in accepted] == ["open", "dispatched"]
    assert [r.body.decode() for r in accepted] == [
        row.payload for row in rows if row.sink == "webhook"
    ]
    # Sinks without a sender are left alone, not lost.
    assert dispatcher.pending_count("webhook") == 0
    assert dispatcher.pending_count("mqtt") == 2


def test_two_dispatchers_share_the_outbox_without_doubles(
    engine: Engine, receiver: Receiver
) -> None:
    """Background threads of two dispatchers on one database, tickets changing meanwhile."""
    store = TicketStore(engine, clock=SystemClock(), sinks=WEBHOOK_ONLY)
    senders = [WebhookSender(receiver.url, SECRET, timeout_s=5) for _ in range(2)]
    dispatchers = [
        OutboxDispatcher(engine, {"webhook": sender}, SystemClock(), poll_s=0.05)
        for sender in senders
    ]
    for dispatcher in dispatchers:
        dispatcher.start()
    try:
        for n in range(12):
            ticket_id = store.record(finding(device(n))).ticket_id
            dispatch(store, ticket_id)
            dispatchers[n % 2].wake()
        total = len(outbox_rows(engine))
        assert total == 24
        wait_until(lambda: len(receiver.accepted()) >= total, 30, "all events at the receiver")
        wait_until(lambda: dispatchers[0].pending_count() == 0, 10, "outbox drained")
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop(timeout_s=10)
        for sender in senders:
            sender.close()
    assert not any(dispatcher.running for dispatcher in dispatchers)
    accepted = receiver.accepted()
    assert len(accepted) == total, "an event was delivered twice"
    assert order_seen(accepted) == expected_order(engine)
    assert sum(d.delivered.value(sink="webhook") for d in dispatchers) == total


class _Exploding:
    def send(self, event: PendingEvent) -> SendResult:
        raise RuntimeError("bug in a sender")

    def close(self) -> None:
        pass


def test_a_sender_that_raises_is_a_failure_not_a_crash(
    sqlite_engine: Engine, clock: ManualClock
) -> None:
    TicketStore(sqlite_engine, clock=clock, sinks=WEBHOOK_ONLY).record(finding(device(1)))
    dispatcher = OutboxDispatcher(sqlite_engine, {"webhook": _Exploding()}, clock)
    assert dispatcher.run_once() == 0
    [row] = outbox_rows(sqlite_engine)
    assert row.attempts == 1
    assert row.last_error == "sender raised RuntimeError: bug in a sender"


def test_purge_keeps_pending_and_recent_rows(
    sqlite_engine: Engine, clock: ManualClock, receiver: Receiver
) -> None:
    store = TicketStore(sqlite_engine, clock=clock, sinks=WEBHOOK_ONLY)
    store.record(finding(device(1)))
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5)
    dispatcher = OutboxDispatcher(sqlite_engine, {"webhook": sender}, clock)
    try:
        assert dispatcher.run_once() == 1
    finally:
        sender.close()
    clock.advance(days=8)
    store.record(finding(device(2)))  # pending: never purged
    assert dispatcher.purge_delivered(timedelta(days=9)) == 0
    assert dispatcher.purge_delivered(timedelta(days=7)) == 1
    [left] = outbox_rows(sqlite_engine)
    assert left.delivered_at is None
