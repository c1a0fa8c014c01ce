"""Outbox stores on real SQLite files and the machine's PostgreSQL, and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.schema import create_schema
from quality.tickets.outbox import OutboxEvent
from storage.sql import make_engine
from tests.databases import BACKENDS, fresh_engine
from tests.quality.delivery.receiver import Receiver

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


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database with the service's schema, on each backend in turn."""
    with fresh_engine(request.param, tmp_path, "delivery") as made:
        yield made


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.release.set()
    server.stop()
