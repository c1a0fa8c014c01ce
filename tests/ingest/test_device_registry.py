"""The registry's upsert on both backends: new devices inserted, known ones overwritten."""

from __future__ import annotations

from dataclasses import MISSING, astuple, fields

from sqlalchemy import Engine

from ingest.device_registry import DeviceRegistry, DeviceState
from tests.quality.delivery.conftest import engine  # noqa: F401  (SQLite and PostgreSQL)


def test_save_inserts_new_devices_and_overwrites_known_ones(engine: Engine) -> None:  # noqa: F811
    registry = DeviceRegistry(engine)
    registry.save([DeviceState("p-1", "s1", "b1", "pump", last_seq=1, samples=1)])
    batch = [
        DeviceState(f"p-{n}", "s1", "b2", "pump", online=n % 2 == 0, last_seen_ms=n, last_seq=n)
        for n in range(1, 3_001)
    ]
    registry.save(batch)
    rows = {row.device_id: row for row in registry.list()}
    assert len(rows) == 3_000
    assert (rows["p-1"].building, rows["p-1"].last_seq, rows["p-1"].online) == ("b2", 1, False)
    assert (rows["p-2999"].last_seen_ms, rows["p-2999"].online) == (2_999, False)
    assert rows["p-3000"].online
    registry.save([DeviceState("p-1", "s1", "b2", "pump", online=True, last_seq=9, samples=5)])
    row = registry.get("s1", "p-1")
    assert row is not None and (row.online, row.last_seq, row.samples) == (True, 9, 5)
    assert registry.list(kind="lighting") == []


def test_snapshot_copies_every_field() -> None:
    state = DeviceState("p-1", "s1", "b1", "pump", False, 10, 9, 8, 7)
    copy = state.snapshot()
    assert copy is not state and astuple(copy) == astuple(state)
    # Every field set away from its default, so a field the copy forgot shows up here.
    assert all(
        getattr(state, f.name) != f.default for f in fields(DeviceState) if f.default is not MISSING
    )


def test_the_same_id_in_two_sites_is_two_devices(engine: Engine) -> None:  # noqa: F811
    registry = DeviceRegistry(engine)
    registry.save(
        [
            DeviceState("door-1", "north", "b1", "access", last_seq=1),
            DeviceState("door-1", "south", "b7", "access", online=False, last_seq=2),
        ]
    )
    registry.save([DeviceState("door-1", "south", "b7", "access", last_seq=3)])
    rows = [(d.site, d.building, d.last_seq, d.online) for d in registry.list()]
    assert rows == [("north", "b1", 1, True), ("south", "b7", 3, True)]
    south = registry.get("south", "door-1")
    assert south is not None and south.building == "b7"
    assert registry.get("east", "door-1") is None
    assert [d.site for d in registry.named("door-1")] == ["north", "south"]
    assert [d.site for d in registry.list(site="north")] == ["north"]
