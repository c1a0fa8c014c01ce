"""Outbox stores on real SQLite files and the machine's PostgreSQL, and a webhook receiver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.schema import create_schema
from quality.tickets.outbox import OutboxEvent
from storage.sql import make_engine
from tests.conftest import unique
from tests.quality.delivery.receiver import Receiver

POSTGRES_URL = os.environ.get(
    "FACMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = "test-webhook-secret"


def finding(device: DeviceRef, fault_type: str = "bearing_wear") -> Finding:
    return Finding(
        device=device,
        fault_type=fault_type,
        severity=Severity.MAJOR,
        detector="pump_bearing_wear",
        detector_version="1",
        onset_ms=1_000,
        summary="vibration 0.4 above 0.32",
        evidence={"value": 0.4, "threshold": 0.32},
    )


def outbox_rows(engine: Engine, sink: str | None = None) -> list[OutboxEvent]:
    with Session(engine) as session:
        query = select(OutboxEvent).order_by(OutboxEvent.id)
        if sink is not None:
            query = query.where(OutboxEvent.sink == sink)
        return list(session.scalars(query).all())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2027, 1, 1, tzinfo=UTC))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
        create_schema(engine)
        yield engine
        engine.dispose()
        return
    schema = unique("d").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.release.set()
    server.stop()
