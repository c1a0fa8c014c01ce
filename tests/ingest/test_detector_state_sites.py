"""Saved detector state is per (site, device_id): door-1 of two sites is saved and
restored as two devices, each with its own newest sample time."""

from __future__ import annotations

from pathlib import Path

from contract.topics import DeviceRef
from facmon.schema import create_schema
from ingest.detector_state import KeptBank, StateKeeper
from storage.detector_state import DetectorStateStore
from storage.sql import make_engine
from tests.detectors.series import T0, Clock, samples

NORTH = DeviceRef("north", "b1", "access", "door-1")
SOUTH = DeviceRef("south", "b9", "access", "door-1")
CLOSED = {"door_open": False, "held_open_s": 0.0}


def test_one_id_in_two_sites_is_saved_and_restored_as_two_devices(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    create_schema(engine)
    store = DetectorStateStore(engine)
    clock = Clock()
    bank = KeptBank(clock_ms=clock)
    north, south = samples(NORTH, [CLOSED] * 30), samples(SOUTH, [CLOSED] * 10)
    for sample in [*north, *south]:
        bank.on_sample(sample)
    assert bank.changed == {("north", "door-1"), ("south", "door-1")}
    assert bank.last_ts == {
        ("north", "door-1"): north[-1].ts_ms,
        ("south", "door-1"): south[-1].ts_ms,
    }
    StateKeeper(bank, store, series=None).stop()  # saves every change

    rows = list(store.load())
    assert {(r.site, r.building, r.last_ts_ms) for r in rows} == {
        ("north", "b1", north[-1].ts_ms),
        ("south", "b9", south[-1].ts_ms),
    }
    restored = KeptBank(clock_ms=Clock(T0))
    report = StateKeeper(restored, store, series=None, replay_hours=0.0).restore()
    assert report.devices == 2 and report.skipped == 0 and report.restored > 0
    assert restored.replayed_to == {
        ("north", "door-1"): north[-1].ts_ms,
        ("south", "door-1"): south[-1].ts_ms,
    }
    assert restored.kept(("south", "door-1")) is not restored.kept(("north", "door-1"))
    assert {d.device for d in restored.kept(("south", "door-1")) or []} == {SOUTH}
