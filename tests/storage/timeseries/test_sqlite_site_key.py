"""The embedded series store keys a point by its site too, and converts an older file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from storage.timeseries import Point
from storage.timeseries.sqlite import SQLiteSeriesStore


def door(site: str, seq: int, ts_ms: int) -> Point:
    return Point(
        "access", {"site": site, "building": "b1", "device_id": "door-1"}, {"seq": seq}, ts_ms
    )


def test_one_id_in_two_sites_at_one_instant_is_two_points(tmp_path: Path) -> None:
    store = SQLiteSeriesStore(tmp_path / "series.sqlite")
    store.write([door("north", 1, 1_000), door("south", 7, 1_000)])
    store.write([door("north", 1, 1_000)])  # a redelivery replaces, as before
    assert store.count("access", "door-1") == 2
    assert [r.fields["seq"] for r in store.recent("access", "door-1", 5, site="south")] == [7]
    assert [r.tags["site"] for r in store.recent("access", "door-1", 5, site="north")] == ["north"]
    assert len(store.recent("access", "door-1", 5)) == 2
    store.close()


def test_a_file_made_before_the_site_was_in_the_key_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "series.sqlite"
    old = sqlite3.connect(str(path))
    old.executescript(
        "CREATE TABLE points (measurement TEXT NOT NULL, device_id TEXT NOT NULL,"
        " ts_ms INTEGER NOT NULL, tags TEXT NOT NULL, fields TEXT NOT NULL,"
        " PRIMARY KEY (measurement, device_id, ts_ms)) WITHOUT ROWID;"
    )
    tags = {"site": "north", "building": "b1", "device_id": "door-1"}
    old.execute(
        "INSERT INTO points VALUES ('access', 'door-1', 1000, ?, ?)",
        (json.dumps(tags), json.dumps({"seq": 1})),
    )
    old.commit()
    old.close()
    store = SQLiteSeriesStore(path)
    store.write([door("south", 7, 1_000)])
    [north] = store.recent("access", "door-1", 5, site="north")
    assert (north.ts_ms, north.fields["seq"], north.tags) == (1_000, 1, tags)
    assert store.count("access", "door-1") == 2
    store.close()
    reopened = SQLiteSeriesStore(path)  # converted once: opening again changes nothing
    assert reopened.count("access", "door-1") == 2
    reopened.close()
