"""Read a backtest CSV: `ts,site,building,kind,device_id`, then contract metric columns.

The format (the shared real-data corpus uses it): RFC 3339 UTC `ts` with milliseconds,
rows sorted by `ts`, an empty cell for an absent metric, booleans `true`/`false`. A row
that cannot be replayed becomes a `BadRow` with its line number and the reason, and the
reading goes on; a row whose `ts` is earlier than the row before it is such a bad row
(replaying it would move data time backwards). A wrong header is a `HeaderError`.

>>> import io
>>> text = "ts,site,building,kind,device_id,door_open\\n"
>>> text += "2027-01-01T00:00:00.000Z,hq,b1,access,d1,true\\n"
>>> text += "2027-01-01T00:00:01.000Z,hq,b1,access,d1,maybe\\n"
>>> [type(r).__name__ for r in read_csv(io.StringIO(text))]
['Sample', 'BadRow']
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, Final, TextIO

from contract.payload import MetricValue, parse_timestamp
from contract.topics import TELEMETRY_SCHEMAS, ContractError, DeviceRef, MetricSpec
from ingest.backtest.records import BadRow, Record, RowJudge

IDENTITY_COLUMNS: Final = ("ts", "site", "building", "kind", "device_id")
METRIC_COLUMNS: Final = tuple(
    sorted({name for schema in TELEMETRY_SCHEMAS.values() for name in schema})
)
_SCHEMAS: Final = {kind.value: schema for kind, schema in TELEMETRY_SCHEMAS.items()}
_BOOLEANS: Final = {"true": True, "false": False}


class HeaderError(ValueError):
    """The file's header is not a backtest header; the text names the expected columns."""


def check_header(header: list[str]) -> list[str]:
    """The metric columns of a valid header, or `HeaderError` saying what is expected."""
    expected = (
        f"expected the header {','.join(IDENTITY_COLUMNS)} followed by one or more metric "
        f"columns named as in the contract: {', '.join(METRIC_COLUMNS)}"
    )
    names = [name.strip() for name in header]
    if tuple(names[: len(IDENTITY_COLUMNS)]) != IDENTITY_COLUMNS:
        shown = ",".join(names[: len(IDENTITY_COLUMNS)]) or "(empty)"
        raise HeaderError(f"header starts with {shown!r}: {expected}")
    metrics = names[len(IDENTITY_COLUMNS) :]
    unknown = [name for name in metrics if name not in METRIC_COLUMNS]
    if unknown:
        raise HeaderError(f"unknown column(s) {', '.join(map(repr, unknown))}: {expected}")
    if not metrics:
        raise HeaderError(f"no metric column: {expected}")
    duplicates = sorted({name for name in metrics if metrics.count(name) > 1})
    if duplicates:
        raise HeaderError(f"duplicate column(s) {', '.join(duplicates)}: {expected}")
    return metrics


def _cell_value(name: str, cell: str, spec: MetricSpec | None) -> MetricValue | str:
    """The cell as the JSON value a device would send; the decoder judges it."""
    if spec is None:
        return cell  # not a metric of this kind: the decoder names it
    if spec.type is bool:
        value = _BOOLEANS.get(cell)
        if value is None:
            raise ContractError(f"column {name}: {cell[:40]!r} is not true or false")
        return value
    try:
        return int(cell) if spec.type is int and cell.lstrip("-").isdigit() else float(cell)
    except ValueError:
        raise ContractError(f"column {name}: {cell[:40]!r} is not a number") from None


def read_csv(stream: TextIO, judge: RowJudge | None = None) -> Iterator[Record]:
    """Yield a `Sample` or a `BadRow` per data row; raise `HeaderError` on a wrong header."""
    judge = judge or RowJudge()
    rows = csv.reader(stream)
    header = next(rows, None)
    if header is None:
        raise HeaderError("the file is empty: " + "expected a header row")
    metrics = check_header(header)
    width = len(IDENTITY_COLUMNS) + len(metrics)
    columns = list(enumerate(metrics, start=len(IDENTITY_COLUMNS)))
    devices: dict[tuple[str, str, str, str], DeviceRef] = {}
    last_ts_text = ""
    last_ts_ms = -(2**63)
    latest_ms = -(2**63)
    last_of_device: dict[DeviceRef, int] = {}
    line = 1
    for row in rows:
        line += 1
        if not row:
            continue  # a blank line
        if len(row) != width:
            yield BadRow(line, f"{len(row)} cells, the header has {width}")
            continue
        ts_text, site, building, kind, device_id = row[0], row[1], row[2], row[3], row[4]
        try:
            if ts_text != last_ts_text:  # rows of one instant share their parsed time
                last_ts_ms = parse_timestamp(ts_text)
                last_ts_text = ts_text
            ts_ms = last_ts_ms
            if ts_ms < latest_ms:
                raise ContractError(
                    f"ts {ts_text} is earlier than an earlier row's: rows must be sorted by ts"
                )
            key = (site, building, kind, device_id)
            device = devices.get(key)
            if device is None:
                device = DeviceRef(site, building, kind, device_id)
                judge.topic(device)  # identifiers and kind, checked once per device
                devices[key] = device
            if last_of_device.get(device) == ts_ms:
                raise ContractError(
                    f"duplicate timestamp: device {device_id} already has a row at {ts_text}"
                )
            schema = _SCHEMAS[kind]
            values: dict[str, Any] = {}
            for index, name in columns:
                cell = row[index]
                if cell:
                    values[name] = _cell_value(name, cell, schema.get(name))
            sample = judge.sample(device, ts_ms, values)
        except ContractError as exc:
            yield BadRow(line, str(exc))
            continue
        latest_ms = ts_ms
        last_of_device[device] = ts_ms
        yield sample
