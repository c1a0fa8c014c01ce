"""`facmon ledger import|export|list`: the equipment ledger (设备台账) from the command line.

    facmon ledger import ledger.xlsx            # nothing is imported if a row is wrong
    facmon ledger import ledger.csv --skip-errors
    facmon ledger export ledger.xlsx            # format from the extension
    facmon ledger list --site demo --kind pump

Messages follow the locale (LC_ALL, LC_MESSAGES, LANG): Chinese for a zh locale, English
otherwise. Problems in a file are printed as a table of line, column and problem, and the
exit code is 2 whenever there was one (also with --skip-errors, which still imports the
good rows).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facmon.settings import Settings
from quality.ledger.messages import Language, Text, terminal_language
from quality.ledger.table import Format

PROGRESS_FROM_ROWS = 10_000


def _say(text: Text, language: Language, *, err: bool = False) -> None:
    print(text.pick(language), file=sys.stderr if err else sys.stdout)


def _error(message: Text) -> Text:
    return Text(f"error: {message.en}", f"错误：{message.zh}")


def _width(text: str) -> int:
    """Columns a string takes in a terminal (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [_width(h) for h in header]
    for row in rows:
        widths = [max(w, _width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _engine(url: str | None) -> Any:
    from facmon.schema import create_schema
    from storage.sql import make_engine

    engine = make_engine(url or Settings().ticket_database_url)
    create_schema(engine)
    return engine


def _format(path: Path, language: Language) -> Format | None:
    from quality.ledger import LedgerFileError, format_of

    try:
        return format_of(path.name)
    except LedgerFileError as error:
        _say(_error(error.message), language, err=True)
        return None


def cmd_import(args: argparse.Namespace) -> int:
    from quality.ledger import LedgerFileError, import_file

    language = terminal_language()
    path = Path(args.file)
    fmt = _format(path, language)
    if fmt is None:
        return 2
    try:
        data = path.read_bytes()
    except OSError as exc:
        _say(
            Text(
                f"error: cannot read {path}: {exc.strerror}",
                f"错误：无法读取 {path}：{exc.strerror}",
            ),
            language,
            err=True,
        )
        return 2

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "check":
            _say(Text(f"checked {done:,} rows", f"已检查 {done:,} 行"), language, err=True)
        elif total >= PROGRESS_FROM_ROWS:
            _say(
                Text(f"written {done:,} of {total:,} rows", f"已写入 {done:,} / {total:,} 行"),
                language,
                err=True,
            )

    engine = _engine(args.database_url)
    try:
        report = import_file(engine, data, fmt, skip_errors=args.skip_errors, progress=progress)
    except LedgerFileError as error:
        _say(_error(error.message), language, err=True)
        return 2
    finally:
        engine.dispose()
    if report.problems:
        rows = [[str(p.line), p.column, p.message.pick(language)] for p in report.problems]
        header = ["line", "column", "problem"] if language == "en" else ["行", "列", "问题"]
        print(_table(header, rows), file=sys.stderr)
    if report.ignored_columns:
        names = ", ".join(report.ignored_columns)
        _say(
            Text(
                f"columns the ledger does not keep, ignored: {names}",
                f"已忽略台账不保存的列：{names}",
            ),
            language,
            err=True,
        )
    if not report.applied:
        _say(
            Text(
                f"{report.skipped} of {report.rows} rows have problems: nothing was imported. "
                "Fix them, or import the good rows with --skip-errors.",
                f"{report.rows} 行中有 {report.skipped} 行有问题：未导入任何数据。"
                "请修正，或用 --skip-errors 只导入正确的行。",
            ),
            language,
            err=True,
        )
        return 2
    _say(
        Text(
            f"imported {report.imported:,} of {report.rows:,} rows ({report.created:,} new, "
            f"{report.updated:,} updated, {report.skipped:,} skipped) from {path}",
            f"已从 {path} 导入 {report.rows:,} 行中的 {report.imported:,} 行（新增 "
            f"{report.created:,}，更新 {report.updated:,}，跳过 {report.skipped:,}）",
        ),
        language,
    )
    if report.contractors_created:
        names = ", ".join(report.contractors_created)
        _say(Text(f"new contractors: {names}", f"新增维保单位：{names}"), language)
    return 2 if report.problems else 0


def cmd_export(args: argparse.Namespace) -> int:
    from quality.ledger import export_ledger

    language = terminal_language()
    path = Path(args.file)
    fmt = _format(path, language)
    if fmt is None:
        return 2
    engine = _engine(args.database_url)
    try:
        with path.open("wb") as out:
            export_ledger(engine, fmt, out, args.site)
    except OSError as exc:
        _say(
            Text(
                f"error: cannot write {path}: {exc.strerror}",
                f"错误：无法写入 {path}：{exc.strerror}",
            ),
            language,
            err=True,
        )
        return 2
    finally:
        engine.dispose()
    _say(Text(f"ledger written to {path}", f"设备台账已写入 {path}"), language)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from quality.ledger import EquipmentFilter, EquipmentRecord, LedgerStore
    from quality.ledger.columns import label
    from quality.ledger.models import KIND_WORDS, STATUS_WORDS

    language = terminal_language()
    engine = _engine(args.database_url)
    try:
        flt = EquipmentFilter(
            args.site, args.building, args.floor, args.kind, args.status, args.contractor, args.q
        )
        items, total = LedgerStore(engine).search(flt, args.limit, args.offset)
    finally:
        engine.dispose()
    columns = ("site", "building", "floor", "kind", "device_id", "name", "contractor", "status")
    words = {"kind": KIND_WORDS, "status": STATUS_WORDS}

    def cell(item: EquipmentRecord, column: str) -> str:
        value = str(getattr(item, column) or "")
        known = words.get(column, {}).get(value)
        return known.pick(language) if known else value

    rows = [[cell(item, c) for c in columns] for item in items]
    first = args.offset + 1 if items else 0
    print(_table([label(c).pick(language) for c in columns], rows))
    _say(
        Text(
            f"{len(items)} of {total} devices (from {first})",
            f"共 {total} 台设备，显示 {len(items)} 台（自第 {first} 台起）",
        ),
        language,
        err=True,
    )
    return 0


def add_ledger_commands(sub: Any) -> None:
    """Add `ledger import|export|list`."""
    ledger = sub.add_parser("ledger", help="the equipment ledger (设备台账): import, export, list")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url", help="SQLAlchemy URL (default: the service's, FACMON_DATABASE_URL)"
    )

    imp = ledger_sub.add_parser(
        "import",
        parents=[database],
        help="upsert a .csv or .xlsx ledger by (site, device_id); nothing if a row is wrong",
    )
    imp.add_argument("file", help="the ledger file, .csv or .xlsx")
    imp.add_argument(
        "--skip-errors", action="store_true", help="import the good rows and report the others"
    )
    imp.set_defaults(func=cmd_import)

    exp = ledger_sub.add_parser(
        "export", parents=[database], help="write the ledger to FILE (.csv or .xlsx)"
    )
    exp.add_argument("file", help="where to write, .csv or .xlsx")
    exp.add_argument("--site", help="only this site")
    exp.set_defaults(func=cmd_export)

    lst = ledger_sub.add_parser("list", parents=[database], help="list the ledger's devices")
    for name in ("site", "building", "floor", "contractor"):
        lst.add_argument(f"--{name}", help=f"only this {name}")
    lst.add_argument(
        "--kind", choices=["elevator", "lighting", "pump", "access"], help="only this kind"
    )
    lst.add_argument(
        "--status",
        choices=["in_service", "under_maintenance", "decommissioned", "pending"],
        help="only this status",
    )
    lst.add_argument("-q", help="text in the name, location or device id")
    lst.add_argument("--limit", type=int, default=100, help="devices shown (100)")
    lst.add_argument("--offset", type=int, default=0, help="devices skipped, for paging")
    lst.set_defaults(func=cmd_list)
