"""A backtest counts a device as its site and its id: door-1 of two sites is two devices,
each held open earns its own ticket."""

from __future__ import annotations

from pathlib import Path

from facmon.cli.backtest import run_csv
from tests.ingest.backtest.synthetic import ACCESS_HEADER, START_MS, door_rows, write_csv


def test_one_id_in_two_sites_is_two_devices_with_a_ticket_each(tmp_path: Path) -> None:
    rows = door_rows("north", "door-1", START_MS, 60, held_from=30)
    rows += door_rows("south", "door-1", START_MS, 60, held_from=30)
    result = run_csv(write_csv(tmp_path / "doors.csv", ACCESS_HEADER, rows))
    assert (result["samples"], result["devices"], result["bad_rows"]) == (120, 2, [])
    tickets = sorted(result["tickets"], key=lambda t: t["site"])
    assert [(t["site"], t["device_id"], t["fault_type"]) for t in tickets] == [
        ("north", "door-1", "door_held_open"),
        ("south", "door-1", "door_held_open"),
    ]
