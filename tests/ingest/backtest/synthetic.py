"""Small backtest CSVs written row by row, for the backtest's tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ingest.backtest.report import rfc3339_ms

START_MS = 1_798_761_600_000  # 2027-01-01T00:00:00Z
ACCESS_HEADER = "ts,site,building,kind,device_id,door_open,held_open_s,reader_ok,valid_credentials"


def door_rows(
    site: str,
    device_id: str,
    start_ms: int,
    count: int,
    step_s: int = 10,
    held_from: int | None = None,
) -> list[tuple[int, str]]:
    """(ts_ms, row) of a door reporting every `step_s`; from sample `held_from` on it
    stays open, its held-open time growing (opened with a valid badge: not forced)."""
    rows = []
    for i in range(count):
        ts_ms = start_ms + i * step_s * 1000
        if held_from is not None and i >= held_from:
            held = (i - held_from + 1) * step_s
            badge = 1 if i == held_from else 0
            cells = f"true,{held}.0,true,{badge}"
        else:
            cells = "false,0.0,true,0"
        rows.append((ts_ms, f"{rfc3339_ms(ts_ms)},{site},b1,access,{device_id},{cells}"))
    return rows


def write_csv(path: Path, header: str, rows: Iterable[tuple[int, str]]) -> Path:
    ordered = sorted(rows, key=lambda r: r[0])
    path.write_text(header + "\n" + "".join(row + "\n" for _, row in ordered))
    return path
