"""`facmon backtest`: replay history through the production detectors and ticket policy.

For tuning thresholds before go-live: which tickets would these detectors have opened
on this history? The replay runs in data time on a throw-away in-memory ticket database
with the product's schema, and the service's offline and ticket settings (`FACMON_*`).
See docs/backtest.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from detectors.config_file import DetectorConfigError, load_detector_config
from facmon.cli.kpi import parse_instant
from facmon.gc_tuning import collecting_less
from facmon.schema import create_schema
from facmon.settings import Settings
from ingest.backtest.csv_source import HeaderError, read_csv
from ingest.backtest.influx_source import read_influx
from ingest.backtest.records import Record
from ingest.backtest.report import format_table, report
from ingest.backtest.runner import Replay, ReplayOptions
from quality.maintenance.gate import Cover
from quality.maintenance.history import past_covers
from storage.sql import make_engine

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class MaintenanceSourceError(Exception):
    """The database named for planned maintenance cannot be read; says what to do."""


def maintenance_covers(
    url: str, start: datetime | None = None, end: datetime | None = None
) -> dict[tuple[str, str], list[Cover]]:
    """The planned-maintenance covers a service database (`url`) kept over [start, end):
    read only, nothing created (raises `MaintenanceSourceError`)."""
    file = url.removeprefix("sqlite:///")
    if file != url and not Path(file).is_file():
        raise MaintenanceSourceError(
            f"--maintenance: no database at {file}: give the service's database URL "
            f"(FACMON_DATABASE_URL) (维保计划: 找不到数据库 {file})"
        )
    try:
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError) as exc:
        raise MaintenanceSourceError(
            f"--maintenance: {url!r} is not a database URL such as "
            "postgresql+psycopg://user@host/facmon or sqlite:///path/facmon.db "
            f"(维保计划: 数据库地址无效): {exc}"
        ) from None
    try:
        return past_covers(engine, start or EARLIEST, end or LATEST)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise MaintenanceSourceError(
            f"--maintenance: cannot read planned maintenance from {engine.url!r}: {reason}; "
            "is it the service's database, brought up to date with `facmon db upgrade`? "
            f"(维保计划: 无法读取保养计划)"
        ) from None
    finally:
        engine.dispose()


def replay_database() -> Engine:
    """An in-memory SQLite database with the product's whole schema, for one replay."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    create_schema(engine)
    return engine


def replay_options(settings: Settings, config: Path | None = None) -> ReplayOptions:
    """The service's offline and ticket settings, as the service itself builds them, and
    the detector configuration file `config` (else `FACMON_DETECTORS_CONFIG`, if set);
    raises `DetectorConfigError` for a file with problems."""
    grace = settings.offline_will_grace_s
    path = config or settings.detectors_config
    return ReplayOptions(
        offline_after_ms=int(settings.offline_after_s * 1000),
        will_grace_ms=None if grace is None else int(grace * 1000),
        policy=settings.ticket_policy(),
        detector_config=load_detector_config(path) if path else None,
    )


def run_csv(
    path: Path,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
    config: Path | None = None,
) -> dict[str, Any]:
    """Replay one backtest CSV and return the report (raises `HeaderError`, `OSError`,
    `DetectorConfigError`)."""
    replay = Replay(replay_database(), replay_options(settings or Settings(), config))
    with path.open(newline="", encoding="utf-8") as stream, collecting_less():
        replay.feed(read_csv(stream), progress)
    return report(replay)


class ProgressBar:
    """A bar on standard error when it is a terminal, at most a few updates a second."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.25:
            return
        self._last = now
        if self.total:
            share = min(done / self.total, 1.0)
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {share:4.0%} {done:,} samples")
        else:
            self.stream.write(f"\r{done:,} samples")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def _replay(options: ReplayOptions, records: Iterable[Record], bar: ProgressBar) -> Replay:
    replay = Replay(replay_database(), options)
    try:
        with collecting_less():
            replay.feed(records, bar)
    finally:
        bar.close()
    return replay


def cmd_backtest(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        options = replay_options(settings, Path(args.config) if args.config else None)
    except DetectorConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.maintenance is not None:
        url = args.maintenance or settings.ticket_database_url
        try:
            covers = maintenance_covers(url, args.start, args.end)
        except MaintenanceSourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        options = replace(options, maintenance=covers)
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            print(f"error: {path} is not a file", file=sys.stderr)
            return 2
        bar = ProgressBar(_count_lines(path) if sys.stderr.isatty() else None)
        try:
            with path.open(newline="", encoding="utf-8") as stream:
                replay = _replay(options, read_csv(stream), bar)
        except HeaderError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
    else:
        if not (args.start and args.end):
            print("error: --influx needs --from and --to", file=sys.stderr)
            return 2
        records = read_influx(
            args.influx,
            args.database or settings.influx_database,
            args.start,
            args.end,
            site=args.site,
            username=settings.influx_username,
            password=settings.influx_password,
        )
        replay = _replay(options, records, ProgressBar(None))
    result = report(replay)
    for bad in result["bad_rows"]:
        where = f"line {bad['line']}" if bad["line"] else "sample"
        print(f"bad row: {where}: {bad['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        print(format_table(result))
    return 0


def add_backtest_command(subparsers: Any) -> None:
    """Add `backtest` to the `facmon` parser's subcommands."""
    backtest = subparsers.add_parser(
        "backtest",
        help="replay history through the detectors and ticket policy; report the tickets",
        description=__doc__,
    )
    source = backtest.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--input", metavar="FILE.csv", help="a backtest CSV (ts,site,building,kind,device_id,…)"
    )
    source.add_argument("--influx", metavar="URL", help="replay a range from this InfluxDB")
    backtest.add_argument(
        "--from", dest="start", type=parse_instant, help="with --influx: start (ISO 8601, UTC)"
    )
    backtest.add_argument(
        "--to", dest="end", type=parse_instant, help="with --influx: end, excluded (ISO 8601)"
    )
    backtest.add_argument("--site", help="with --influx: only this site")
    backtest.add_argument(
        "--database",
        help="with --influx: database (default FACMON_INFLUX_DATABASE); the user and "
        "password are FACMON_INFLUX_USERNAME and FACMON_INFLUX_PASSWORD",
    )
    backtest.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="detector parameters per kind, site, building and device (the format of "
        "FACMON_DETECTORS_CONFIG, which is used when this is not given)",
    )
    backtest.add_argument(
        "--maintenance",
        nargs="?",
        const="",
        metavar="DATABASE_URL",
        help="suppress findings on devices under planned maintenance, as the service did: "
        "the maintenance windows and work orders of this database (alone: the service's, "
        "FACMON_DATABASE_URL); such findings are reported as suppressed and open no ticket",
    )
    backtest.add_argument("--json", action="store_true", help="print one JSON object")
    backtest.set_defaults(func=cmd_backtest)
