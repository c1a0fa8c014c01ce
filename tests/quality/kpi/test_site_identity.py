"""KPIs per site when one device id is in two sites: each site's door-1 is its own device,
in the computation and in the embedded series store the liveness is read from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.clock import to_ms
from contract.payload import StatusChange
from contract.topics import DeviceRef
from ingest.pipeline.points import status_point
from quality.kpi import GroupKey, LivenessChange, Period, TicketRecord, Transition, compute_kpis
from quality.kpi.sources import SQLiteSignals
from storage.timeseries.sqlite import SQLiteSeriesStore

START = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
PERIOD = Period(START, START + timedelta(hours=2))
NORTH = DeviceRef("north", "b1", "access", "door-1")
SOUTH = DeviceRef("south", "b1", "access", "door-1")


def change(device: DeviceRef, at: datetime, online: bool) -> LivenessChange:
    return LivenessChange(
        device.device_id, device.site, device.building, device.kind, to_ms(at), online
    )


def test_integrity_counts_each_sites_door_on_its_own() -> None:
    """Both doors online all period; north's has a major ticket from 11:00 on (good 3,600 s
    of 7,200), south's has none (good 7,200 s)."""
    before = START - timedelta(hours=1)
    opened = START + timedelta(hours=1)
    held_open = TicketRecord(
        id=1,
        device_id="door-1",
        site="north",
        building="b1",
        kind="access",
        fault_type="door_held_open",
        severity="major",
        opened_at=opened,
        dispatch_due_at=opened + timedelta(hours=4),
        rectify_due_at=opened + timedelta(hours=72),
        history=(Transition(opened, "open", None),),
    )
    liveness = [change(NORTH, before, True), change(SOUTH, before, True)]
    kpis = compute_kpis(PERIOD, [held_open], liveness)
    north, south = kpis[GroupKey("site", "north")], kpis[GroupKey("site", "south")]
    assert (north.devices, north.observed_s, north.good_s) == (1, 7_200, 3_600)
    assert (south.devices, south.observed_s, south.good_s) == (1, 7_200, 7_200)
    assert north.integrity_pct == pytest.approx(50.0)
    assert south.integrity_pct == pytest.approx(100.0)


def test_the_embedded_store_keeps_both_doors_liveness(tmp_path: Path) -> None:
    """Status points of both doors at the same instants: neither overwrites the other."""
    store = SQLiteSeriesStore(tmp_path / "series.sqlite")
    before, during = to_ms(START) - 60_000, to_ms(START) + 60_000
    store.write(
        [
            status_point(StatusChange(NORTH, True), before),
            status_point(StatusChange(SOUTH, True), before),
            status_point(StatusChange(NORTH, False), during),
            status_point(StatusChange(SOUTH, True), during),
        ]
    )
    signals = SQLiteSignals(tmp_path / "series.sqlite")
    try:
        found = signals.liveness(PERIOD.start_ms, PERIOD.end_ms)
    finally:
        signals.close()
        store.close()
    assert sorted((c.site, c.device_id, c.ts_ms, c.online) for c in found) == [
        ("north", "door-1", before, True),
        ("north", "door-1", during, False),
        ("south", "door-1", before, True),
        ("south", "door-1", during, True),
    ]
