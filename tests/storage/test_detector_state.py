"""The detector state table on both real backends: upserts, and one transaction per save."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from facmon.schema import create_schema
from storage.detector_state import DetectorStateStore, StateRow
from storage.sql import make_engine
from tests.conftest import unique
from tests.databases import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
        create_schema(made)
        yield made
        made.dispose()
        return
    schema = unique("state").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    made = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    create_schema(made)
    yield made
    made.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def row(device: str, detector: str, state: bytes, last_ts_ms: int | None = 1) -> StateRow:
    return StateRow("s1", "b1", "pump", device, detector, "1", "layout", last_ts_ms, state)


def test_a_save_overwrites_each_detectors_row(engine: Engine) -> None:
    store = DetectorStateStore(engine)
    store.save([row("p1", "a", b"old"), row("p1", "b", b"b"), row("p2", "a", b"p2")])
    store.save([row("p1", "a", b"\x00new\xff", last_ts_ms=None)])
    saved = {(r.device_id, r.detector): r for r in store.load()}
    assert store.count() == 3
    assert saved[("p1", "a")].state == b"\x00new\xff"
    assert saved[("p1", "a")].last_ts_ms is None
    assert saved[("p1", "b")].state == b"b"


def test_a_save_is_all_or_nothing(engine: Engine) -> None:
    store = DetectorStateStore(engine)
    store.save([row("p1", "a", b"kept")])
    broken = StateRow("s1", "b1", "pump", "p2", "a", "1", "layout", 1, None)  # type: ignore[arg-type]
    with pytest.raises(DBAPIError):
        store.save([row("p1", "a", b"changed"), broken])
    assert [r.state for r in store.load()] == [b"kept"]
