"""`facmon report weekly|monthly` makes a quality report (周报, 月报) now and copies its PDF
(and HTML) where asked; `facmon report list` lists the reports made.

    facmon report weekly --site hq --lang zh-CN --out hq-w49.pdf --period 2026-W49
    facmon report monthly --lang en --out portfolio-2026-11.pdf --html portfolio.html
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from facmon.settings import Settings


def add_report_commands(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="quality reports (周报, 月报): make and list")
    sub = report.add_subparsers(dest="report_command", required=True)
    for kind, what in (("weekly", "周报"), ("monthly", "月报")):
        make = sub.add_parser(kind, help=f"make a {kind} report ({what}) now")
        make.add_argument("--site", default=None, help="a site (default: the whole portfolio)")
        make.add_argument(
            "--lang", default="zh-CN", choices=("zh-CN", "en"), help="the report's language"
        )
        make.add_argument("--out", required=True, type=Path, help="where to write the PDF")
        make.add_argument("--html", type=Path, default=None, help="also write the HTML here")
        make.add_argument(
            "--period",
            default=None,
            help="2026-W49 (weekly) or 2026-11 (monthly); default: the last complete one",
        )
        make.set_defaults(func=cmd_report_make, kind=kind)
    listing = sub.add_parser("list", help="list the reports made, newest first")
    listing.set_defaults(func=cmd_report_list)


def _reporter(settings: Settings) -> Any:
    from api.routes.reports import ECHARTS, REPEAT_WINDOW
    from facmon.schema import create_schema
    from facmon.service import open_series_store
    from quality.kpi.sources import signals_for
    from quality.reports.config import ReportSettings
    from quality.reports.generator import Reporter
    from storage.sql import make_engine

    engine = make_engine(settings.ticket_database_url)
    create_schema(engine)
    series = open_series_store(settings)
    reporter = Reporter(
        engine,
        lambda: signals_for(series),
        settings.data_dir,
        ECHARTS,
        ReportSettings(),
        repeat_window=REPEAT_WINDOW,
    )
    return reporter, engine, series


def cmd_report_make(args: argparse.Namespace) -> int:
    from quality.reports.generator import NotBegun
    from quality.reports.periods import BadPeriod

    reporter, engine, series = _reporter(Settings())
    try:
        made = reporter.generate(
            args.kind, args.site, args.period, args.lang, trigger="cli", by="cli"
        )
    except BadPeriod as exc:
        print(f"error: --period: {exc}", file=sys.stderr)
        return 2
    except NotBegun as exc:
        print(f"error: --period: {exc} has not begun", file=sys.stderr)
        return 2
    finally:
        series.close()
        engine.dispose()
    report = made.report
    assert report is not None and report.pdf_path and report.html_path
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report.pdf_path, args.out)
    print(
        f"report {report.id}: {args.kind} {args.site or 'portfolio'} {report.period} "
        f"{report.language} -> {args.out} ({report.pdf_bytes} bytes)"
    )
    if args.html is not None:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report.html_path, args.html)
        print(f"html -> {args.html} ({report.html_bytes} bytes)")
    return 0


def cmd_report_list(_args: argparse.Namespace) -> int:
    from facmon.schema import create_schema
    from quality.reports.store import ReportStore
    from storage.sql import make_engine

    settings = Settings()
    engine = make_engine(settings.ticket_database_url)
    try:
        create_schema(engine)
        rows = ReportStore(engine).list()
    finally:
        engine.dispose()
    if not rows:
        print("no report yet")
        return 0
    print(
        f"{'id':>4}  {'kind':8} {'site':12} {'period':9} {'lang':5} {'status':7} {'created':25} pdf"
    )
    for row in rows:
        print(
            f"{row.id:>4}  {row.kind:8} {(row.site or 'portfolio'):12} {row.period:9} "
            f"{row.language:5} {row.status:7} {row.created_at.isoformat():25} {row.pdf_path or ''}"
        )
    return 0
