"""Maintenance on both real backends: an empty database per test, a ledger to plan over,
and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.ledger.store import LedgerStore
from quality.ledger.validation import EquipmentCreate
from quality.tickets import TicketStore
from tests.quality.tickets.conftest import engine_factory  # noqa: F401  (the fixture)

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(engine_factory: object) -> Engine:  # noqa: F811
    made: Engine = engine_factory()  # type: ignore[operator]
    return made


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def tickets(engine: Engine, clock: ManualClock) -> TicketStore:
    return TicketStore(engine, clock=clock, sinks=())


def add_device(
    engine: Engine, site: str, device_id: str, kind: str = "pump", status: str | None = None
) -> None:
    body: dict[str, object] = {
        "site": site,
        "building": "b1",
        "kind": kind,
        "device_id": device_id,
        "name": device_id,
    }
    if status is not None:
        body["status"] = status
    LedgerStore(engine).create(EquipmentCreate.model_validate(body))
