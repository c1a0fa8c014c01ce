"""Import a ledger file: every row checked first, then one transaction of bulk upserts.

A file with any wrong row imports nothing, and the report names each problem by line,
column (as the file's header writes it) and what to do; with `skip_errors` the good rows
are imported and the report still lists the others. The upsert key is (site, device_id):
importing the same file twice changes nothing. Columns the file does not have are left
as they are on devices already in the ledger, so a sheet of only site, building, kind,
device_id and name never clears a contractor or un-decommissions a device.

Rows go to the database in chunks through the dialect's `INSERT … ON CONFLICT DO UPDATE`
(SQLAlchemy Core), not as ORM objects: 100,000 rows take seconds, not minutes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.sql.expression import literal

from contract.clock import Clock, SystemClock
from quality.ledger.columns import COLUMNS, REQUIRED_COLUMNS, field_for_header, label
from quality.ledger.csv_file import read_csv
from quality.ledger.messages import Text
from quality.ledger.models import DEFAULT_CRITICALITY, Contractor, Equipment, Status
from quality.ledger.table import Format, LedgerFileError, Table
from quality.ledger.validation import EquipmentRow, describe
from quality.ledger.xlsx_file import read_xlsx
from storage.sql import upsert_insert

CHUNK_ROWS: Final = 1000
TITLE_ROWS: Final = 5
# The device's own columns; the contractor's contacts go to the contractors table.
_DEVICE_FIELDS: Final = tuple(
    c for c in COLUMNS if c not in {"contractor_contact", "contractor_phone", "contractor_email"}
)
_CONTACT_FIELDS: Final = {
    "contractor_contact": "contact_person",
    "contractor_phone": "phone",
    "contractor_email": "email",
}

Progress = Callable[[str, int, int], None]
_CONTRACTORS: Final = cast(sa.Table, Contractor.__table__)
_EQUIPMENT: Final = cast(sa.Table, Equipment.__table__)


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    column: str
    message: Text

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "en": self.message.en,
            "zh": self.message.zh,
        }


@dataclass(slots=True)
class ImportReport:
    """What an import did: `applied` is False when nothing was written."""

    rows: int = 0
    imported: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    applied: bool = False
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    contractors_created: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "applied": self.applied,
            "problems": [p.as_dict() for p in self.problems],
            "ignored_columns": self.ignored_columns,
            "contractors_created": self.contractors_created,
        }


def read_table(data: bytes, fmt: Format) -> Table:
    return read_xlsx(data) if fmt == "xlsx" else read_csv(data)


def _columns(header: list[str]) -> tuple[dict[int, str], list[str]]:
    """Which field each column index holds, and the headers the ledger does not keep."""
    fields: dict[int, str] = {}
    seen: dict[str, str] = {}
    ignored = []
    for index, name in enumerate(header):
        target = field_for_header(name)
        if target is None:
            if name:
                ignored.append(name)
            continue
        if target in seen:
            raise LedgerFileError(
                Text(
                    f"columns {seen[target]!r} and {name!r} both give {target}: keep one",
                    f"{seen[target]!r} 与 {name!r} 两列都是{label(target).zh}：请保留一列",
                )
            )
        seen[target] = name
        fields[index] = target
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        en = ", ".join(missing)
        zh = "、".join(f"{label(c).zh} ({c})" for c in missing)
        raise LedgerFileError(
            Text(
                f"the header lacks required columns: {en}; add them (English or Chinese names)",
                f"表头缺少必填列：{zh}；请补上（中英文列名均可）",
            )
        )
    return fields, ignored


def _names_required(header: list[str]) -> bool:
    named = {field_for_header(str(cell)) for cell in header if cell}
    return all(column in named for column in REQUIRED_COLUMNS)


def _below_title(table: Table) -> Table:
    """The table whose header is the first row naming the required columns: a ledger sheet
    often opens with a title row or two (XX项目设备台账, a date) above its header. Up to
    `TITLE_ROWS` rows are looked at; otherwise the first row stays the header (and the
    missing columns are reported from it)."""
    if _names_required(table.header):
        return table
    for row in itertools.islice(table.rows, TITLE_ROWS):
        header = ["" if cell is None else str(cell).strip() for cell in row.cells]
        if _names_required(header):
            return Table(header, table.rows)
    return table


@dataclass(slots=True)
class _Checked:
    line: int
    row: EquipmentRow


def check_rows(
    table: Table, report: ImportReport, progress: Progress | None = None
) -> tuple[list[_Checked], set[str]]:
    """The rows that pass, and the fields the file has; problems go into `report`."""
    table = _below_title(table)
    fields, report.ignored_columns = _columns(table.header)
    header_of = {target: table.header[index] for index, target in fields.items()}
    good: list[_Checked] = []
    first_line: dict[tuple[str, str], int] = {}
    for row in table.rows:
        report.rows += 1
        values = {
            target: row.cells[index]
            for index, target in fields.items()
            if index < len(row.cells) and row.cells[index] not in (None, "")
        }
        try:
            checked = EquipmentRow.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                problem = describe(error)
                column = header_of.get(problem.field, problem.field)
                report.problems.append(RowProblem(row.line, column, problem.detail))
            continue
        key = (checked.site, checked.device_id)
        if key in first_line:
            report.problems.append(
                RowProblem(
                    row.line,
                    header_of["device_id"],
                    Text(
                        f"site {key[0]!r} and device id {key[1]!r} repeat line "
                        f"{first_line[key]}: keep one row per device",
                        f"项目 {key[0]!r} 与设备编号 {key[1]!r} 与第 {first_line[key]} 行重复："
                        "每台设备只保留一行",
                    ),
                )
            )
            continue
        first_line[key] = row.line
        good.append(_Checked(row.line, checked))
        if progress and report.rows % 10_000 == 0:
            progress("check", report.rows, 0)
    return good, set(fields.values())


def import_table(
    engine: Engine,
    table: Table,
    *,
    skip_errors: bool = False,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    report = ImportReport()
    good, present = check_rows(table, report, progress)
    bad_lines = {p.line for p in report.problems}
    report.skipped = len(bad_lines)
    if bad_lines and not skip_errors:
        return report
    now = (clock or SystemClock()).now()
    with engine.begin() as connection:
        contractor_ids = _upsert_contractors(connection, good, present, now, report)
        report.created = len(good) - _existing(connection, good)
        _upsert_equipment(connection, engine, good, present, contractor_ids, now, progress)
    report.imported = len(good)
    report.updated = report.imported - report.created
    report.applied = True
    return report


def import_file(
    engine: Engine,
    data: bytes,
    fmt: Format,
    *,
    skip_errors: bool = False,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a whole CSV or .xlsx file; `LedgerFileError` when it cannot be read as one."""
    return import_table(
        engine, read_table(data, fmt), skip_errors=skip_errors, clock=clock, progress=progress
    )


def _existing(connection: Connection, good: list[_Checked]) -> int:
    """How many of the rows' devices are in the ledger already (by site, in chunks)."""
    keys_by_site: dict[str, set[str]] = {}
    for item in good:
        keys_by_site.setdefault(item.row.site, set()).add(item.row.device_id)
    found = 0
    for site, device_ids in keys_by_site.items():
        listed = sorted(device_ids)
        for start in range(0, len(listed), CHUNK_ROWS):
            chunk = listed[start : start + CHUNK_ROWS]
            found += int(
                connection.scalar(
                    select(func.count())
                    .select_from(Equipment)
                    .where(Equipment.site == site, Equipment.device_id.in_(chunk))
                )
                or 0
            )
    return found


def _upsert_contractors(
    connection: Connection,
    good: list[_Checked],
    present: set[str],
    now: datetime,
    report: ImportReport,
) -> dict[str, int]:
    """Register the contractors the rows name (kinds added, contacts filled from the file)."""
    if "contractor" not in present:
        return {}
    wanted: dict[str, dict[str, Any]] = {}
    for item in good:
        row = item.row
        if row.contractor is None:
            continue
        entry = wanted.setdefault(row.contractor, {"kinds": set()})
        entry["kinds"].add(row.kind)
        for column, target in _CONTACT_FIELDS.items():
            value = getattr(row, column)
            if value is not None and target not in entry:
                entry[target] = value
    if not wanted:
        return {}
    table = _CONTRACTORS
    known = {
        name: (cid, kinds)
        for name, cid, kinds in connection.execute(
            select(Contractor.name, Contractor.id, Contractor.kinds).where(
                Contractor.name.in_(list(wanted))
            )
        )
    }
    for name, entry in wanted.items():
        contacts = {k: v for k, v in entry.items() if k != "kinds"}
        if name in known:
            kinds = sorted(set(known[name][1] or []) | entry["kinds"])
            connection.execute(
                table.update()
                .where(table.c.id == known[name][0])
                .values(kinds=kinds, updated_at=now, **contacts)
            )
        else:
            # Nothing if an import running alongside registered it a moment ago.
            added = connection.execute(
                upsert_insert(connection.engine, "the ledger import")(table)
                .values(
                    name=name,
                    kinds=sorted(entry["kinds"]),
                    active=True,
                    created_at=now,
                    updated_at=now,
                    **contacts,
                )
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(table.c.id)
            ).first()
            if added is not None:
                report.contractors_created.append(name)
    found = connection.execute(
        select(Contractor.name, Contractor.id).where(Contractor.name.in_(list(wanted)))
    )
    return {name: contractor_id for name, contractor_id in found}


def _device_values(
    row: EquipmentRow, contractor_ids: dict[str, int], now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in _DEVICE_FIELDS}
    values.pop("contractor")
    values["contractor_id"] = contractor_ids.get(row.contractor) if row.contractor else None
    values["criticality"] = str(row.criticality or DEFAULT_CRITICALITY)
    status = str(row.status or Status.IN_SERVICE)
    values["status"] = status
    values["decommissioned_at"] = now if status == Status.DECOMMISSIONED else None
    values["created_at"] = now
    values["updated_at"] = now
    return values


def _upsert_equipment(
    connection: Connection,
    engine: Engine,
    good: list[_Checked],
    present: set[str],
    contractor_ids: dict[str, int],
    now: datetime,
    progress: Progress | None,
) -> None:
    if not good:
        return
    table = _EQUIPMENT
    insert = upsert_insert(engine, "the ledger import")(table)
    excluded = insert.excluded
    updated = {
        column: excluded[column]
        for column in _DEVICE_FIELDS
        if column in present and column not in {"site", "device_id", "contractor"}
    }
    if "contractor" in present:
        updated["contractor_id"] = excluded.contractor_id
    if "criticality" in present:
        updated["criticality"] = excluded.criticality
    if "status" in present:
        leaving = excluded.status == literal(Status.DECOMMISSIONED.value)
        updated["decommissioned_at"] = case(
            (leaving, func.coalesce(table.c.decommissioned_at, excluded.decommissioned_at)),
            else_=None,
        )
        updated["decommission_reason"] = case((leaving, table.c.decommission_reason), else_=None)
    updated["updated_at"] = excluded.updated_at
    statement = insert.on_conflict_do_update(index_elements=["site", "device_id"], set_=updated)
    for start in range(0, len(good), CHUNK_ROWS):
        chunk = good[start : start + CHUNK_ROWS]
        connection.execute(statement, [_device_values(i.row, contractor_ids, now) for i in chunk])
        if progress:
            progress("write", start + len(chunk), len(good))
