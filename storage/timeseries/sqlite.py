"""Embedded time-series store in SQLite, for laptops without InfluxDB.

Same identity rule as InfluxDB: a point with the same measurement, device and
timestamp replaces the earlier one, so replays are harmless. A device is its site and
its id, as InfluxDB's tag set makes it: door-1 of two sites at one instant is two points.
A file made before the site was part of the key is converted when opened.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from storage.timeseries.base import Point, Row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, device_id, site, ts_ms)
) WITHOUT ROWID;
"""

# A file made while the key was (measurement, device_id, ts_ms): every point keeps its
# site, read from its tags.
_ADD_SITE_TO_KEY = """
BEGIN IMMEDIATE;
ALTER TABLE points RENAME TO points_without_site;
CREATE TABLE points (
    measurement TEXT NOT NULL,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, device_id, site, ts_ms)
) WITHOUT ROWID;
INSERT INTO points
    SELECT measurement, COALESCE(json_extract(tags, '$.site'), ''), device_id, ts_ms, tags, fields
    FROM points_without_site;
DROP TABLE points_without_site;
COMMIT;
"""


class SQLiteSeriesStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(points)")}
        if columns and "site" not in columns:
            self._db.executescript(_ADD_SITE_TO_KEY)
        self._db.executescript(_SCHEMA)

    def write(self, points: Sequence[Point]) -> None:
        rows = [
            (
                p.measurement,
                p.tags.get("site", ""),
                p.tags.get("device_id", ""),
                p.ts_ms,
                json.dumps(p.tags, sort_keys=True),
                json.dumps(p.fields),
            )
            for p in points
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recent(
        self, measurement: str, device_id: str, limit: int, site: str | None = None
    ) -> list[Row]:
        where, args = "measurement = ? AND device_id = ?", [measurement, device_id]
        if site is not None:
            where += " AND site = ?"
            args.append(site)
        with self._lock:
            cursor = self._db.execute(
                f"SELECT ts_ms, tags, fields FROM points WHERE {where} ORDER BY ts_ms DESC LIMIT ?",
                (*args, int(limit)),
            )
            return [Row(ts, json.loads(tags), json.loads(fields)) for ts, tags, fields in cursor]

    def count(self, measurement: str, device_id: str | None = None) -> int:
        with self._lock:
            if device_id is None:
                cursor = self._db.execute(
                    "SELECT COUNT(*) FROM points WHERE measurement = ?", (measurement,)
                )
            else:
                cursor = self._db.execute(
                    "SELECT COUNT(*) FROM points WHERE measurement = ? AND device_id = ?",
                    (measurement, device_id),
                )
            return int(cursor.fetchone()[0])

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
