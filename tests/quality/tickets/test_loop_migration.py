"""Tickets of the release before the acknowledge step, upgraded on SQLite and PostgreSQL:
dismissed tickets become false alarms without their cards, rectified tickets were
acknowledged when rectified, and the one-active-ticket rule covers `acknowledged`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import DateTime, Engine, bindparam, create_engine, text
from sqlalchemy.exc import IntegrityError

from contract.clock import ManualClock
from facmon.schema import upgrade_schema
from quality.tickets.lifecycle import Role
from quality.tickets.store import TicketStore
from storage.sql import make_engine
from tests.conftest import unique
from tests.databases import POSTGRES_URL

RELEASE = Path(__file__).resolve().parents[2] / "storage" / "fixtures"
T = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

# Tickets as the release wrote them (its columns only), besides the dump's two.
INSERT = text(
    "INSERT INTO tickets (id, device_id, site, building, kind, fault_type, severity,"
    " detector_severity, state, summary, detector, detector_version, evidence, onset_ms,"
    " opened_at, updated_at, occurrences, assignee, dispatch_due_at, rectify_due_at,"
    " dispatched_at, rectified_at, verified_at, closed_at, dispatch_breached,"
    " rectify_breached, escalation_level, repeat_count, previous_ticket_ids, card,"
    " reopen_count) VALUES (:id, :device, 'site-a', 'b1', 'pump', :fault, 'major', 'major',"
    " :state, 's', 'd', '1', '{}', 0, :t, :t, 1, 'li', :t, :t, :dispatched, :rectified,"
    " :verified, :closed, false, false, 0, :repeat, '[]', :card, 0)"
).bindparams(
    *(
        bindparam(name, type_=DateTime(timezone=True))
        for name in ("t", "dispatched", "rectified", "verified", "closed")
    )
)
ROWS = [
    # dismissed as false, opened as a repeat with a yellow card
    dict(id=10, device="pump-1", fault="leakage", state="closed", dispatched=None,
         rectified=None, verified=None, closed=T, repeat=2, card="yellow"),
    # closed out after re-check: a real fault, keeps its red card
    dict(id=11, device="pump-2", fault="leakage", state="closed", dispatched=T,
         rectified=T, verified=T, closed=T, repeat=3, card="red"),
    # rectified, waiting for re-check
    dict(id=12, device="pump-3", fault="leakage", state="rectified", dispatched=T,
         rectified=T, verified=None, closed=None, repeat=1, card="none"),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def release_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database the release made (its dump) with the tickets above added."""
    dump = (RELEASE / f"release_eb27afb_{request.param}.sql").read_text()
    if request.param == "sqlite":
        path = tmp_path / "release.sqlite"
        with sqlite3.connect(path) as connection:
            connection.executescript(dump)
        engine = make_engine(f"sqlite:///{path}")
        schema = None
    else:
        schema = unique("l").replace("-", "_")
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(dump)
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(INSERT, {**row, "t": T})
    yield engine
    engine.dispose()
    if schema is not None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_release_tickets_come_through_with_their_loop_history_read(
    release_engine: Engine,
) -> None:
    upgrade_schema(release_engine)
    store = TicketStore(release_engine, clock=ManualClock(T))
    dismissed = store.require(10)
    assert (dismissed.false_alarm, dismissed.card, dismissed.repeat_count) == (True, "none", 2)
    real = store.require(11)
    assert (real.false_alarm, real.card) == (False, "red")
    rectified = store.require(12)
    assert rectified.acknowledged_at is not None and rectified.recheck_due_at is None
    assert store.require(1).acknowledged_at is None  # dispatched, not acknowledged yet
    assert [c["ticket_ids"] for c in store.cards("equipment")] == [[11]]

    # The release's dispatched ticket goes on through the new step.
    assert store.transition(1, "acknowledged", "li", Role.ENGINEER).state == "acknowledged"
    # ... and, acknowledged, it is still the one active ticket of its device and fault.
    with pytest.raises(IntegrityError), release_engine.begin() as connection:
        connection.execute(
            INSERT,
            dict(ROWS[2], id=13, device="pump-7", fault="vibration_rising", state="open", t=T),
        )
