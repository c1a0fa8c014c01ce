"""Read a time range of stored telemetry back from InfluxDB, as replay records.

Uses the product's InfluxDB backend (`storage.timeseries.influx.InfluxStore.query`, the
v1 `/query` API with InfluxQL). The range is read in windows (one hour by default,
halved while InfluxDB marks a window's answer `partial`, its row limit), each window's
rows of every device kind merged by time, and each row judged by the contract's decoder
like a live sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from contract.topics import TELEMETRY_SCHEMAS, ContractError, DeviceRef
from ingest.backtest.records import BadRow, Record, RowJudge
from storage.timeseries.influx import InfluxQueryError, InfluxStore, quote_ident, quote_literal

TAGS: Final = ("site", "building", "device_id")
KINDS: Final = tuple(kind.value for kind in TELEMETRY_SCHEMAS)
_MIN_WINDOW_MS: Final = 1_000

Row = tuple[int, str, str, str, str, dict[str, Any]]


def _window_rows(
    store: InfluxStore, start_ms: int, end_ms: int, site: str | None
) -> list[Row] | None:
    """Every kind's rows in [start_ms, end_ms), sorted; None if an answer was partial."""
    rows: list[Row] = []
    where = f"time >= {start_ms}ms AND time < {end_ms}ms"
    if site:
        where += f" AND site = {quote_literal(site)}"
    for kind in KINDS:
        for series in store.query(f"SELECT * FROM {quote_ident(kind)} WHERE {where}"):
            if series.get("partial"):
                return None
            columns: list[str] = series["columns"]
            for values in series["values"]:
                record = dict(zip(columns, values, strict=True))
                ts_ms = int(record.pop("time"))
                tags = [str(record.pop(tag, "") or "") for tag in TAGS]
                record.pop("seq", None)
                metrics = {k: v for k, v in record.items() if v is not None}
                rows.append((ts_ms, tags[0], tags[1], kind, tags[2], metrics))
    rows.sort(key=lambda row: row[:5])
    return rows


def read_influx(
    url: str,
    database: str,
    start: datetime,
    end: datetime,
    site: str | None = None,
    username: str | None = None,
    password: str | None = None,
    window_ms: int = 3_600_000,
) -> Iterator[Record]:
    """Yield the samples stored in [start, end), oldest first (`StoreUnavailable`,
    `InfluxQueryError` when InfluxDB cannot answer)."""
    store = InfluxStore(url, database, username, password, create_database=False)
    judge = RowJudge()
    try:
        cursor = int(start.timestamp() * 1000)
        end_ms = int(end.timestamp() * 1000)
        window = window_ms
        while cursor < end_ms:
            upper = min(cursor + window, end_ms)
            rows = _window_rows(store, cursor, upper, site)
            if rows is None:
                if window <= _MIN_WINDOW_MS:
                    raise InfluxQueryError(
                        f"InfluxDB returns a partial answer for one second at {cursor} ms: "
                        "raise its max-row-limit"
                    )
                window = max(window // 2, _MIN_WINDOW_MS)
                continue
            for ts_ms, row_site, building, kind, device_id, metrics in rows:
                try:
                    device = DeviceRef(row_site, building, kind, device_id)
                    yield judge.sample(device, ts_ms, metrics)
                except ContractError as exc:
                    yield BadRow(0, f"{kind} {device_id} at {ts_ms} ms: {exc}")
            cursor = upper
            window = window_ms
    finally:
        store.close()
