"""Ledger files as CSV: UTF-8 (with or without the BOM Excel writes) or GB18030, the
encoding Excel uses for CSV on Chinese Windows; comma, semicolon or tab separated.

>>> table = read_csv("设备编号,项目\\ndoor-1,hq\\n".encode("gb18030"))
>>> table.header, [(r.line, r.cells) for r in table.rows]
(['设备编号', '项目'], [(2, ['door-1', 'hq'])])
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

from quality.ledger.messages import Text
from quality.ledger.table import LedgerFileError, Row, Table, empty_file


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise LedgerFileError(
            Text(
                "this is not a text CSV file (it holds binary data): export the sheet as CSV "
                "UTF-8, or upload the .xlsx itself",
                "这不是文本 CSV 文件（含二进制数据）：请导出为 CSV UTF-8，或直接上传 .xlsx",
            )
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LedgerFileError(
        Text(
            "the CSV file is neither UTF-8 nor GB18030 text: save it as CSV UTF-8",
            "CSV 文件既不是 UTF-8 也不是 GB18030 编码：请另存为 CSV UTF-8",
        )
    )


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(data: bytes) -> Table:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration:
        raise empty_file() from None
    except csv.Error as exc:
        raise _unreadable(exc) from None
    if not any(cell.strip() for cell in header):
        raise empty_file()

    def rows() -> Iterator[Row]:
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield Row(reader.line_num, list(cells))
        except csv.Error as exc:
            raise _unreadable(exc, reader.line_num) from None

    return Table([h.strip() for h in header], rows())


def _unreadable(exc: csv.Error, line: int | None = None) -> LedgerFileError:
    where_en = f" at line {line}" if line else ""
    where_zh = f"第 {line} 行" if line else ""
    return LedgerFileError(
        Text(
            f"the CSV cannot be read{where_en} ({exc}): check the quotes in that row",
            f"CSV 文件{where_zh}无法读取（{exc}）：请检查该行的引号",
        )
    )


def write_csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """CSV as Excel opens it cleanly: the caller opens `out` with encoding utf-8-sig."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
