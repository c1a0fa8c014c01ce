"""Ledger files as Excel workbooks (.xlsx): the first sheet, header in its first row."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from openpyxl import Workbook, load_workbook

from quality.ledger.messages import Text
from quality.ledger.table import LedgerFileError, Row, Table, empty_file


def _not_a_workbook(detail: str) -> LedgerFileError:
    return LedgerFileError(
        Text(
            f"this is not an Excel .xlsx workbook ({detail}): save the sheet as .xlsx, "
            "or export it as CSV",
            f"这不是 Excel .xlsx 工作簿（{detail}）：请另存为 .xlsx，或导出为 CSV",
        )
    )


def read_xlsx(data: bytes) -> Table:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _not_a_workbook("not a zip archive")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0] if book.worksheets else None
    except Exception as exc:  # openpyxl raises many kinds for a damaged archive
        raise _not_a_workbook(type(exc).__name__) from None
    if sheet is None:
        raise empty_file()
    values: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
    try:
        first = next(values, None)
    except Exception as exc:
        raise _not_a_workbook(type(exc).__name__) from None
    if first is None or not any(_present(c) for c in first):
        book.close()
        raise empty_file()
    header = ["" if c is None else str(c).strip() for c in first]

    def rows() -> Iterator[Row]:
        try:
            for line, cells in enumerate(values, start=2):
                if any(_present(c) for c in cells):
                    yield Row(line, list(cells))
        except LedgerFileError:
            raise
        except Exception as exc:
            raise _not_a_workbook(type(exc).__name__) from None
        finally:
            book.close()

    return Table(header, rows())


def _present(cell: object) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def write_xlsx(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("ledger")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(out)
