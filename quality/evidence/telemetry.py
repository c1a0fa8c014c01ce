"""A device's readings over a span of time, from the service's time-series store (InfluxDB
or the embedded SQLite store), at most `max_points` per metric: a long span is averaged
into equal buckets by the store itself (InfluxQL `GROUP BY time`, SQL `GROUP BY`), so a
week of 2-second samples costs the reader a few thousand points. Booleans read as 0/1.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from storage.timeseries.base import SeriesStore
from storage.timeseries.influx import InfluxStore, quote_ident, quote_literal
from storage.timeseries.sqlite import SQLiteSeriesStore

MAX_POINTS: Final = 1500


@dataclass(frozen=True, slots=True)
class Series:
    metric: str
    points: list[tuple[int, float]]
    averaged_ms: int | None  # the bucket width when the store averaged, else None


def _value(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    return None


def _bucket_ms(start_ms: int, end_ms: int, max_points: int) -> int:
    return max(1000, -(-(end_ms - start_ms) // max_points))


class _Influx:
    def __init__(self, store: InfluxStore) -> None:
        self.store = store

    def read(
        self, kind: str, site: str, device_id: str, metric: str, start: int, end: int, cap: int
    ) -> Series:
        where = (
            f"device_id = {quote_literal(device_id)} AND site = {quote_literal(site)} "
            f"AND time >= {int(start)}ms AND time < {int(end)}ms"
        )
        table, field = quote_ident(kind), quote_ident(metric)
        raw = self.store.query(
            f"SELECT {field} FROM {table} WHERE {where} ORDER BY time ASC LIMIT {cap + 1}"
        )
        points = [
            (int(ts), value)
            for series in raw
            for ts, found in series["values"]
            if (value := _value(found)) is not None
        ]
        if len(points) <= cap:
            return Series(metric, points, None)
        boolean = isinstance(next(v for s in raw for _, v in s["values"] if v is not None), bool)
        reduce = "last" if boolean else "mean"  # InfluxQL cannot average booleans
        bucket = _bucket_ms(start, end, cap)
        averaged = self.store.query(
            f"SELECT {reduce}({field}) FROM {table} WHERE {where} "
            f"GROUP BY time({bucket}ms) fill(none)"
        )
        points = [
            (int(ts), value)
            for series in averaged
            for ts, found in series["values"]
            if (value := _value(found)) is not None
        ]
        return Series(metric, points, bucket)


class _SQLite:
    def __init__(self, store: SQLiteSeriesStore) -> None:
        self.path = store.path

    def read(
        self, kind: str, site: str, device_id: str, metric: str, start: int, end: int, cap: int
    ) -> Series:
        where = (
            "measurement = ? AND device_id = ? AND site = ? AND ts_ms >= ? AND ts_ms < ? "
            "AND json_extract(fields, ?) IS NOT NULL"
        )
        path = "$." + json.dumps(metric)
        args = (kind, device_id, site, int(start), int(end), path)
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            (count,) = db.execute(f"SELECT COUNT(*) FROM points WHERE {where}", args).fetchone()
            if count <= cap:
                rows = db.execute(
                    f"SELECT ts_ms, json_extract(fields, ?) FROM points WHERE {where} "
                    "ORDER BY ts_ms",
                    (path, *args),
                ).fetchall()
                points = [(int(ts), v) for ts, raw in rows if (v := _value(raw)) is not None]
                return Series(metric, points, None)
            bucket = _bucket_ms(start, end, cap)
            rows = db.execute(
                f"SELECT ? + (ts_ms - ?) / ? * ? AS at, AVG(json_extract(fields, ?)) "
                f"FROM points WHERE {where} GROUP BY at ORDER BY at",
                (int(start), int(start), bucket, bucket, path, *args),
            ).fetchall()
            return Series(metric, [(int(at), float(v)) for at, v in rows], bucket)
        finally:
            db.close()


def read_series(
    store: SeriesStore,
    *,
    kind: str,
    site: str,
    device_id: str,
    metrics: Sequence[str],
    start_ms: int,
    end_ms: int,
    max_points: int = MAX_POINTS,
) -> list[Series]:
    """Each metric's readings in [start_ms, end_ms), oldest first."""
    reader: _Influx | _SQLite
    if isinstance(store, InfluxStore):
        reader = _Influx(store)
    elif isinstance(store, SQLiteSeriesStore):
        reader = _SQLite(store)
    else:
        raise TypeError(f"no telemetry reader for {type(store).__name__}")
    return [
        reader.read(kind, site, device_id, metric, start_ms, end_ms, max_points)
        for metric in metrics
    ]
