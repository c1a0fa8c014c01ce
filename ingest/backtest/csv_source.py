"""Read a backtest CSV: `ts,site,building,kind,device_id`, then contract metric columns.

The format (the shared real-data corpus uses it): RFC 3339 UTC `ts` with milliseconds,
rows sorted by `ts`, an empty cell for an absent metric, booleans `true`/`false`. A row
that cannot be replayed becomes a `BadRow` with its line number and the reason, and the
reading goes on. A row whose `ts` is earlier than an earlier row's is such a bad row
(replaying it would move data time backwards), and so is a second row of one device at
one `ts` (the service refuses it as a duplicate timestamp). A wrong header is a
`HeaderError` that names the expected columns.

>>> import io
>>> text = "ts,site,building,kind,device_id,door_open\\n"
>>> text += "2027-01-01T00:00:00.000Z,hq,b1,access,d1,true\\n"
>>> text += "2027-01-01T00:00:01.000Z,hq,b1,access,d1,maybe\\n"
>>> [type(r).__name__ for r in read_csv(io.StringIO(text))]
['Sample', 'BadRow']
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from typing import Any, Final, TextIO

from contract.payload import finite_float_bounds, parse_timestamp
from contract.topics import TELEMETRY_SCHEMAS, ContractError, MetricSpec
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


def cell_value(name: str, cell: str, spec: MetricSpec | None) -> Any:
    """The cell as the JSON value a device would send, for the decoder to judge; a cell
    that is no such value is a `ContractError` naming the column."""
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


def _bool(cell: str) -> bool:
    return _BOOLEANS[cell]  # KeyError: the slow path names the cell


Columns = list[tuple[int, str, Callable[[str], Any], float, float]]


class _KindColumns:
    """Per kind, the header's columns of its metrics as (index, name, converter, low,
    high); a value in any other metric column is a bad row.
    `low <= value <= high` holds exactly for the values the contract accepts in the
    column (booleans: 0 <= False, True <= 1), so a row of plainly valid cells is judged
    in one pass; anything else goes through the contract's decoder, which names it."""

    def __init__(self, metrics: list[str], first: int) -> None:
        self.names = list(enumerate(metrics, start=first))
        self.by_kind: dict[str, Columns] = {}
        for kind, schema in _SCHEMAS.items():
            bounds = finite_float_bounds(kind)
            own: Columns = []
            for index, name in self.names:
                spec = schema.get(name)
                if spec is None:
                    continue  # another kind's metric: a value there is a bad row
                if spec.type is bool:
                    own.append((index, name, _bool, 0, 1))
                elif spec.type is int:
                    low = -math.inf if spec.minimum is None else spec.minimum
                    high = math.inf if spec.maximum is None else spec.maximum
                    own.append((index, name, int, low, high))
                else:
                    own.append((index, name, float, *bounds[name]))
            self.by_kind[kind] = own


def _slow_values(row: list[str], kind: str, names: list[tuple[int, str]]) -> dict[str, Any]:
    schema = _SCHEMAS[kind]
    return {name: cell_value(name, row[i], schema.get(name)) for i, name in names if row[i]}


def read_csv(stream: TextIO, judge: RowJudge | None = None) -> Iterator[Record]:
    """Yield a `Sample` or a `BadRow` per data row; raise `HeaderError` on a wrong header."""
    judge = judge or RowJudge()
    rows = csv.reader(stream)
    header = next(rows, None)
    if header is None:
        raise HeaderError("the file is empty: expected a header row")
    metrics = check_header(header)
    identity = len(IDENTITY_COLUMNS)
    width = identity + len(metrics)
    columns = _KindColumns(metrics, len(IDENTITY_COLUMNS))
    by_kind = columns.by_kind
    last_ts_text = ""
    ts_ms = latest_ms = -(2**63)
    last_of_device: dict[int, int] = {}  # by id() of the judge's one DeviceRef per device
    line = 1
    for row in rows:
        line += 1
        if len(row) != width:
            if row:  # a blank line is skipped
                yield BadRow(line, f"{len(row)} cells, the header has {width}")
            continue
        ts_text = row[0]
        try:
            if ts_text != last_ts_text:  # rows of one instant share their parsed time
                ts_ms = parse_timestamp(ts_text)
                last_ts_text = ts_text
            if ts_ms < latest_ms:
                raise ContractError(
                    f"ts {ts_text} is earlier than an earlier row's: rows must be sorted by ts"
                )
            device = judge.device(row[1], row[2], row[3], row[4])
            if last_of_device.get(id(device)) == ts_ms:
                raise ContractError(
                    f"duplicate timestamp: device {device.device_id} already has a row at {ts_text}"
                )
            own = by_kind[device.kind]
            try:
                values = {}
                for i, name, convert, low, high in own:
                    cell = row[i]
                    if cell:
                        value = convert(cell)
                        if not low <= value <= high:
                            raise ValueError
                        values[name] = value
                # every other filled cell is an identity column: none of another kind's
                # metrics (counted in C, not cell by cell)
                if not values or len(values) + identity != width - row.count(""):
                    raise ValueError
                sample = judge.checked_sample(device, ts_ms, values)
            except (ValueError, KeyError):
                values = _slow_values(row, device.kind, columns.names)
                sample = judge.sample(device, ts_ms, values)
        except ContractError as exc:
            yield BadRow(line, str(exc))
            continue
        latest_ms = ts_ms
        last_of_device[id(device)] = ts_ms
        yield sample
