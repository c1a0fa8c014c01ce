"""Ledger files as Excel workbooks (.xlsx): the first sheet, header in its first row.

Reading streams the sheet's XML straight out of the archive and picks the cells out with
regular expressions: openpyxl builds an object per cell and read 100,000 ledger rows in
about two minutes, this in seconds. It understands what a ledger holds: shared and inline
strings (rich text runs joined), numbers, booleans, formulas' cached values, and numbers
styled as dates (the built-in date formats, the Chinese ones included, and custom formats
openpyxl recognises as dates). Writing uses openpyxl's write-only workbook.
"""

from __future__ import annotations

import codecs
import functools
import html
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from posixpath import join, normpath
from typing import IO, Final
from xml.etree.ElementTree import Element, ParseError, fromstring

from openpyxl import Workbook
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import from_excel

from quality.ledger.messages import Text
from quality.ledger.table import Cell, LedgerFileError, Row, Table, empty_file

_MAIN: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Built-in number formats that show a date: openpyxl's list, and the East Asian ones
# (27-36, 50-58) that Chinese Excel writes for 2024年3月15日 and the like.
_DATE_FORMAT_IDS: Final = frozenset(
    [i for i, code in BUILTIN_FORMATS.items() if is_date_format(code)]
    + list(range(27, 37))
    + list(range(50, 59))
)
_CHUNK: Final = 1 << 20

_P = r"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix (x:row, as some tools write)
_ROW = re.compile(rf"<{_P}row\b([^>]*?)(?:/>|>(.*?)</{_P}row>)", re.S)
_CELL = re.compile(rf"<{_P}c\b([^>]*?)(?:/>|>(.*?)</{_P}c>)", re.S)
_VALUE = re.compile(rf"<{_P}v(?:\s[^>]*)?>(.*?)</{_P}v>", re.S)
_TEXT = re.compile(rf"<{_P}t(?:\s[^>]*)?>(.*?)</{_P}t>|<{_P}t(?:\s[^>]*)?/>", re.S)
_SPACE = re.compile(r"\s+")
_ROW_END = re.compile(rf"</{_P}row>")


def _not_a_workbook(detail: str) -> LedgerFileError:
    return LedgerFileError(
        Text(
            f"this is not an Excel .xlsx workbook ({detail}): save the sheet as .xlsx, "
            "or export it as CSV",
            f"这不是 Excel .xlsx 工作簿（{detail}）：请另存为 .xlsx，或导出为 CSV",
        )
    )


def _text(raw: str) -> str:
    return html.unescape(raw) if "&" in raw else raw


@functools.lru_cache(maxsize=1024)
def _column_of_letters(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index - 1


def _column(reference: str) -> int:
    """Zero-based column of a cell reference such as `AB12`."""
    return _column_of_letters(reference.rstrip("0123456789$").lstrip("$"))


class _Workbook:
    """The parts of the archive a reading needs: the first sheet, strings and date styles."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.sheet = self._first_sheet()
        self.shared = self._shared_strings()
        self.date_styles = self._date_styles()

    def _xml(self, name: str) -> Element:
        try:
            return fromstring(self.archive.read(name))
        except KeyError:
            raise _not_a_workbook(f"{name} is missing") from None
        except ParseError:
            raise _not_a_workbook(f"{name} is damaged") from None

    def _first_sheet(self) -> str:
        book = self._xml("xl/workbook.xml")
        sheet = book.find(f"{_MAIN}sheets/{_MAIN}sheet")
        if sheet is None:
            raise empty_file()
        rel_id = sheet.get(f"{_REL}id")
        rels = self._xml("xl/_rels/workbook.xml.rels")
        for rel in rels.iter(f"{_PKG_REL}Relationship"):
            if rel.get("Id") == rel_id:
                target = rel.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else join("xl", target)
                return normpath(path)
        raise _not_a_workbook("its first sheet is missing")

    def _shared_strings(self) -> list[str]:
        name = "xl/sharedStrings.xml"
        if name not in self.archive.namelist():
            return []
        root = self._xml(name)
        return [
            "".join(t.text or "" for t in item.iter(f"{_MAIN}t"))
            for item in root.iter(f"{_MAIN}si")
        ]

    def _date_styles(self) -> frozenset[int]:
        """Indexes of the cell styles (`s="…"`) whose number format shows a date."""
        name = "xl/styles.xml"
        if name not in self.archive.namelist():
            return frozenset()
        root = self._xml(name)
        custom = {
            int(fmt.get("numFmtId", "-1")): fmt.get("formatCode", "")
            for fmt in root.iter(f"{_MAIN}numFmt")
        }
        cell_xfs = root.find(f"{_MAIN}cellXfs")
        dates = set()
        for index, xf in enumerate([] if cell_xfs is None else cell_xfs.findall(f"{_MAIN}xf")):
            fmt_id = int(xf.get("numFmtId", "0"))
            if fmt_id in _DATE_FORMAT_IDS or (fmt_id in custom and is_date_format(custom[fmt_id])):
                dates.add(index)
        return frozenset(dates)

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) of the first sheet, in order, streamed in chunks."""
        try:
            stream = self.archive.open(self.sheet)
        except KeyError:
            raise _not_a_workbook("its first sheet is missing") from None
        decoder = codecs.getincrementaldecoder("utf-8")()
        pending = ""
        last = 0
        with stream:
            while True:
                chunk = stream.read(_CHUNK)
                pending += decoder.decode(chunk, final=not chunk)
                cut = _last_row_end(pending) if chunk else len(pending)
                for match in _ROW.finditer(pending, 0, cut):
                    number = _row_number(match.group(1), last)
                    last = number
                    if match.group(2):
                        yield number, self._cells(match.group(2))
                pending = pending[cut:]
                if not chunk:
                    return

    def _cells(self, body: str) -> list[Cell]:
        cells: list[Cell] = []
        for attributes, inner in _CELL.findall(body):
            if not attributes.isprintable():  # line breaks or tabs between attributes
                attributes = _SPACE.sub(" ", attributes)
            attributes = " " + attributes
            reference = _attribute(attributes, ' r="')
            index = _column(reference) if reference else len(cells)
            if index != len(cells):
                if index < len(cells) or index > 16_383:
                    raise _not_a_workbook(f"a cell reference {reference!r} is out of order")
                cells.extend([None] * (index - len(cells)))
            cells.append(self._value(attributes, inner))
        return cells

    def _value(self, attributes: str, inner: str) -> Cell:
        kind = _attribute(attributes, ' t="') or "n"
        if kind == "inlineStr":
            plain = inner.startswith("<is><t>") and inner.endswith("</t></is>")
            if plain and inner.count("<") == 4:  # one plain run, as openpyxl writes them
                return _text(inner[7:-9])
            return "".join(_text(m.group(1) or "") for m in _TEXT.finditer(inner))
        if inner.startswith("<v>") and inner.endswith("</v>"):  # how Excel writes values
            raw = _text(inner[3:-4])
        else:
            found = _VALUE.search(inner)
            if found is None:
                return None
            raw = _text(found.group(1))
        if kind == "s":
            try:
                return self.shared[int(raw)]
            except (ValueError, IndexError):
                raise _not_a_workbook(f"a shared string {raw[:20]!r} is missing") from None
        if kind in {"str", "e", "d"}:
            return raw
        if kind == "b":
            return raw == "1"
        try:
            number = float(raw)
        except ValueError:
            return raw
        style = _attribute(attributes, ' s="')
        if style and self.date_styles and int(style) in self.date_styles:
            try:
                moment = from_excel(number)
            except (ValueError, OverflowError):
                return raw
            return moment.date() if isinstance(moment, datetime) else moment
        return int(number) if number.is_integer() and "." not in raw and "E" not in raw else number


def _attribute(attributes: str, prefix: str) -> str | None:
    """The value of one attribute, `prefix` being its start (' t="'): string search, as
    a regular expression per cell cost more than the rest of the reading."""
    start = attributes.find(prefix)
    if start < 0:
        return None
    start += len(prefix)
    return attributes[start : attributes.find('"', start)]


def _last_row_end(text: str) -> int:
    """Where the last complete `</row>` in `text` ends (0 when there is none yet)."""
    end = 0
    for match in _ROW_END.finditer(text):
        end = match.end()
    return end


def _row_number(attributes: str, previous: int) -> int:
    found = re.search(r'\br="(\d+)"', attributes)
    return int(found.group(1)) if found else previous + 1


def read_xlsx(data: bytes) -> Table:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _not_a_workbook("not a zip archive")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        book = _Workbook(archive)
        rows = book.rows()
        first = next(rows, None)
    except LedgerFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise _not_a_workbook(type(exc).__name__) from None
    if first is None or not any(_present(c) for c in first[1]):
        raise empty_file()
    header = ["" if c is None else str(c).strip() for c in first[1]]

    def data_rows() -> Iterator[Row]:
        try:
            for number, cells in rows:
                if any(_present(c) for c in cells):
                    yield Row(number, cells)
        except LedgerFileError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
            raise _not_a_workbook(type(exc).__name__) from None

    return Table(header, data_rows())


def _present(cell: object) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def write_xlsx(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("ledger")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(out)
