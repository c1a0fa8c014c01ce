"""A local disk spool for batches the time-series store cannot take right now.

While InfluxDB is down, batches go to a SQLite file and their messages are
acknowledged: the spool is durable, so they are safe. Once the store answers
again the spool is replayed oldest first, a slice before every batch (and
whenever ingest is idle), so it drains while traffic flows; new batches queue
behind what is left, so the store receives points in arrival order. The spool
is bounded: past the bound, batches stay unacknowledged and the broker holds
the rest.

>>> import tempfile, pathlib
>>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.sqlite", max_bytes=10_000)
>>> spool.put([Point("pump", {"device_id": "p1"}, {"seq": 1}, 1000)])
True
>>> spool.put([Point("pump", {"device_id": "p1"}, {"seq": 2}, 2000)])
True
>>> ids, points = spool.oldest()
>>> [p.fields["seq"] for p in points]
[1, 2]
>>> spool.remove(ids)
>>> spool.points
0
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from storage.timeseries import Point

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    points INTEGER NOT NULL,
    body BLOB NOT NULL
);
"""


def _encode(points: Sequence[Point]) -> bytes:
    return json.dumps(
        [[p.measurement, p.tags, p.fields, p.ts_ms] for p in points], separators=(",", ":")
    ).encode()


def _decode(body: bytes) -> list[Point]:
    return [Point(m, tags, fields, ts) for m, tags, fields, ts in json.loads(body)]


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(LENGTH(body)), 0) FROM spool"
        ).fetchone()
        self.chunks, self.points, self.bytes = int(row[0]), int(row[1]), int(row[2])

    def put(self, points: Sequence[Point]) -> bool:
        """Keep the points on disk; False when the bound would be passed."""
        body = _encode(points)
        with self._lock:
            if self.bytes + len(body) > self.max_bytes:
                return False
            self._db.execute("INSERT INTO spool (points, body) VALUES (?, ?)", (len(points), body))
            self.chunks += 1
            self.points += len(points)
            self.bytes += len(body)
        return True

    def oldest(self, max_points: int = 5_000) -> tuple[list[int], list[Point]]:
        """The oldest chunks, merged up to `max_points` (at least one chunk): a drain
        writes the many small chunks of group-commit batches a few thousand at a time."""
        ids: list[int] = []
        points: list[Point] = []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, points, body FROM spool ORDER BY id LIMIT ?", (max(1, max_points),)
            )
            for chunk_id, count, body in rows:
                if ids and len(points) + int(count) > max_points:
                    break
                ids.append(int(chunk_id))
                points += _decode(body)
        return ids, points

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Forget chunks the store now holds, in one transaction (one sync to disk)."""
        with self._lock:
            self._db.execute("BEGIN")
            for chunk_id in chunk_ids:
                row = self._db.execute(
                    "SELECT points, LENGTH(body) FROM spool WHERE id = ?", (chunk_id,)
                ).fetchone()
                if row is None:
                    continue
                self._db.execute("DELETE FROM spool WHERE id = ?", (chunk_id,))
                self.chunks -= 1
                self.points -= int(row[0])
                self.bytes -= int(row[1])
            self._db.execute("COMMIT")

    @property
    def fill(self) -> float:
        return self.bytes / self.max_bytes if self.max_bytes else 1.0

    def close(self) -> None:
        with self._lock:
            self._db.close()
