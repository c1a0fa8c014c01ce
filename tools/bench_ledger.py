"""`facmon bench ledger`: rows per second of a ledger import, on SQLite or PostgreSQL.

A ledger file of `--rows` devices (every kind, spread over 50 sites and their buildings,
each with its contractor) is generated as CSV (or .xlsx with `--format xlsx`), then
imported twice into a fresh database: into an empty ledger (all inserts), then again (all
updates, the upsert's other half). Each import is the whole path a user's file takes:
decoding, checking every row, contractors, bulk upserts in one transaction. PostgreSQL
runs in a schema of its own, dropped afterwards; SQLite in a temporary file.

    facmon bench ledger --rows 100000
    facmon bench ledger --rows 100000 --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from facmon.schema import create_schema
from quality.ledger import Format, import_file
from quality.ledger.columns import COLUMNS
from quality.ledger.csv_file import write_csv
from quality.ledger.xlsx_file import write_xlsx
from storage.sql import make_engine

KINDS = ("elevator", "lighting", "pump", "access")
CONTRACTORS = {
    "elevator": "Bench Elevator Service",
    "lighting": "Bench Electrical",
    "pump": "Bench Water Systems",
    "access": "Bench Security",
}


def ledger_rows(rows: int) -> Iterator[list[object]]:
    """`rows` devices in `COLUMNS` order, every one unique by (site, device_id)."""
    for i in range(rows):
        kind = KINDS[i % len(KINDS)]
        yield [
            f"site-{i % 50:02d}",
            f"b{i % 7}",
            str(i % 30 - 2),
            f"{kind} bay {i % 97}",
            kind,
            f"{kind[:3]}-{i:06d}",
            f"{kind} {i}",
            "M-100",
            "Bench Co.",
            f"SN{i:08d}",
            f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}",
            CONTRACTORS[kind],
            "Zhang Wei",
            "021-5555 0100",
            "service@example.com",
            60 * (1 + i % 5),
            "ABC"[i % 3],
            "in_service",
        ]


def ledger_file(rows: int, fmt: Format) -> bytes:
    buffer = io.BytesIO()
    if fmt == "xlsx":
        write_xlsx(buffer, COLUMNS, ledger_rows(rows))
        return buffer.getvalue()
    out = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    write_csv(out, COLUMNS, ledger_rows(rows))
    out.flush()
    return buffer.getvalue()


@contextmanager
def fresh_database(url: str | None) -> Iterator[Engine]:
    """An empty database with the product's schema: a temporary SQLite file, or a new
    PostgreSQL schema at `url` that is dropped afterwards."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(url or f"sqlite:///{Path(folder) / 'ledger.sqlite'}")
            create_schema(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    schema = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _timed_import(engine: Engine, data: bytes, fmt: Format) -> tuple[float, float, int]:
    """Wall-clock seconds, this process's CPU seconds (the database server's not counted:
    on a shared machine the wall clock also counts other processes' turns), rows."""
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(engine, data, fmt)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not report.applied or report.problems:
        raise RuntimeError(f"the generated ledger did not import: {report.problems[:3]}")
    return seconds, cpu, report.imported


def bench_ledger(args: argparse.Namespace) -> int:
    fmt: Format = args.format
    started = time.perf_counter()
    data = ledger_file(args.rows, fmt)
    generated_s = time.perf_counter() - started
    with fresh_database(args.database_url) as engine:
        backend = engine.dialect.name
        insert_s, insert_cpu_s, rows = _timed_import(engine, data, fmt)
        update_s, update_cpu_s, _ = _timed_import(engine, data, fmt)
    result: dict[str, Any] = {
        "database": backend,
        "format": fmt,
        "rows": rows,
        "file_mb": round(len(data) / 1e6, 1),
        "generate_s": round(generated_s, 2),
        "insert_s": round(insert_s, 2),
        "insert_rows_per_s": round(rows / insert_s),
        "insert_cpu_s": round(insert_cpu_s, 2),
        "update_s": round(update_s, 2),
        "update_rows_per_s": round(rows / update_s),
        "update_cpu_s": round(update_cpu_s, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"ledger import, {rows:,} rows of {fmt} ({result['file_mb']} MB) on {backend}")
    print(
        f"  into an empty ledger: {insert_s:7.2f} s  {rows / insert_s:10,.0f} rows/s"
        f"  (CPU of this process {insert_cpu_s:.2f} s)"
    )
    print(
        f"  again (all updates):  {update_s:7.2f} s  {rows / update_s:10,.0f} rows/s"
        f"  (CPU of this process {update_cpu_s:.2f} s)"
    )
    print(f"  load average {result['load_average']} on {os.cpu_count()} CPUs")
    if max(insert_s, update_s) >= 60:
        print("  over the target of a minute", file=sys.stderr)
        return 1
    return 0


def add_bench_ledger_command(bench_sub: Any) -> None:
    """Add `bench ledger` under `facmon bench`."""
    parser = bench_sub.add_parser(
        "ledger", help="rows/s of an equipment ledger import (CSV or .xlsx), new and again"
    )
    parser.add_argument("--rows", type=int, default=100_000, help="devices in the file (100,000)")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="file format")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (PostgreSQL: a schema of its own is made and dropped); "
        "default a temporary SQLite file",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=lambda args: bench_ledger(args))
