"""`facmon kpi compute`: compute and write the KPIs of a time range on demand.

Useful to backfill after a change of definitions or an outage of the
service; the buckets are the same points the scheduler writes, so running
it over a range the scheduler already did only overwrites them.

>>> parse_instant("2027-01-01T10:00Z").isoformat()
'2027-01-01T10:00:00+00:00'
>>> parse_instant("2027-01-01 10:00").isoformat()  # no zone: UTC
'2027-01-01T10:00:00+00:00'
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from facmon.settings import Settings


def parse_instant(text: str) -> datetime:
    """ISO 8601 (a trailing `Z` allowed; without a zone, UTC) or `now`."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_kpi_commands(subparsers: Any) -> None:
    """Add `kpi compute` to the `facmon` parser's subcommands."""
    kpi = subparsers.add_parser("kpi", help="quality-loop KPIs written to the series store")
    kpi_sub = kpi.add_subparsers(dest="kpi_command", required=True)
    compute = kpi_sub.add_parser(
        "compute", help="compute and write the KPIs of every bucket in [--from, --to)"
    )
    compute.add_argument(
        "--from",
        dest="start",
        required=True,
        type=parse_instant,
        help="first bucket's start: ISO 8601 (UTC without a zone) or `now`",
    )
    compute.add_argument(
        "--to",
        dest="end",
        default="now",
        type=parse_instant,
        help="end, excluded: ISO 8601 or `now` (default)",
    )
    compute.add_argument(
        "--bucket-s", type=float, default=3600.0, help="bucket length in seconds (default 1 h)"
    )
    compute.set_defaults(func=cmd_kpi_compute)


def cmd_kpi_compute(args: argparse.Namespace) -> int:
    from facmon.schema import create_schema
    from facmon.service import open_series_store
    from quality.kpi.job import KpiJob
    from quality.kpi.sources import signals_for
    from storage.sql import make_engine

    if not args.start < args.end:
        print("error: --from must be before --to", file=sys.stderr)
        return 2
    settings = Settings()
    engine = make_engine(settings.ticket_database_url)
    create_schema(engine)
    series = open_series_store(settings)
    signals = signals_for(series)
    try:
        job = KpiJob(
            engine,
            series,
            signals,
            lag=signals,
            bucket=timedelta(seconds=args.bucket_s),
            repeat_window=settings.ticket_policy().repeat_window,
        )
        run = job.run(args.start, args.end)
    finally:
        series.close()
        engine.dispose()
    print(
        f"wrote {run.kpi_points} kpi points over {run.buckets} buckets "
        f"and {run.ticket_event_points} ticket events"
    )
    return 0
