"""A ledger file read as a header and rows of cells, whatever its format.

`Table` is what the CSV and Excel readers hand the importer: the header as written (so
the error report can name a column the way the file does) and each row with the line
number a person sees in their spreadsheet program.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from quality.ledger.messages import Text

Cell = object  # text from a CSV; text, numbers, dates or None from a workbook
Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")


class LedgerFileError(ValueError):
    """The file as a whole cannot be read as a ledger (not rows that are wrong)."""

    def __init__(self, message: Text) -> None:
        super().__init__(message.en)
        self.message = message


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    cells: list[Cell]


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: Iterator[Row]


def format_of(name: str) -> Format:
    """The format a file name's extension says, or a `LedgerFileError` naming the choices."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in {".xls", ".et", ".ods", ".numbers"}:
        raise LedgerFileError(
            Text(
                f"{suffix} workbooks are not read: save the sheet as Excel .xlsx or as CSV",
                f"不支持 {suffix} 文件：请另存为 Excel .xlsx 或 CSV 格式",
            )
        )
    raise LedgerFileError(
        Text(
            f"cannot tell the format of {Path(name).name!r}: name it .csv or .xlsx",
            f"无法识别 {Path(name).name!r} 的格式：文件名请以 .csv 或 .xlsx 结尾",
        )
    )


def empty_file() -> LedgerFileError:
    return LedgerFileError(
        Text(
            "the file has no header row: the first row names the columns (site, building, "
            "kind, device_id, name, …)",
            "文件没有表头：第一行应为列名（项目、楼栋、设备类型、设备编号、设备名称……）",
        )
    )
