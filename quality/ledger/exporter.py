"""Export the ledger as CSV or .xlsx with the import's English columns, so an exported file
imports back unchanged (a round trip is how a department edits its ledger in Excel)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quality.ledger.columns import COLUMNS
from quality.ledger.csv_file import write_csv
from quality.ledger.models import Contractor, Equipment
from quality.ledger.table import Format
from quality.ledger.xlsx_file import write_xlsx

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_BATCH = 2000


def ledger_rows(engine: Engine, site: str | None = None) -> Iterator[list[object]]:
    """Every device (of one site, if given) as a row of `COLUMNS`, in ledger order."""
    query = (
        select(
            Equipment,
            Contractor.name,
            Contractor.contact_person,
            Contractor.phone,
            Contractor.email,
        )
        .outerjoin(Contractor, Equipment.contractor_id == Contractor.id)
        .order_by(Equipment.site, Equipment.building, Equipment.device_id)
        .execution_options(yield_per=_BATCH)
    )
    if site is not None:
        query = query.where(Equipment.site == site)
    with Session(engine) as session:
        for device, name, person, phone, email in session.execute(query):
            extra = {
                "contractor": name,
                "contractor_contact": person,
                "contractor_phone": phone,
                "contractor_email": email,
            }
            yield [extra[c] if c in extra else getattr(device, c) for c in COLUMNS]


def export_ledger(engine: Engine, fmt: Format, out: IO[bytes], site: str | None = None) -> None:
    rows = ledger_rows(engine, site)
    if fmt == "xlsx":
        write_xlsx(out, COLUMNS, rows)
        return
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        write_csv(text, COLUMNS, ([_iso(c) for c in row] for row in rows))
    finally:
        text.flush()
        text.detach()


def export_bytes(engine: Engine, fmt: Format, site: str | None = None) -> bytes:
    buffer = io.BytesIO()
    export_ledger(engine, fmt, buffer, site)
    return buffer.getvalue()


def _iso(cell: object) -> object:
    isoformat = getattr(cell, "isoformat", None)
    return isoformat() if callable(isoformat) else cell
