"""`facmon bench backtest` generates a valid CSV of every device kind and prints its
figures: every generated row replays as a sample, none is a bad row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from facmon.cli import main
from tools.bench_backtest import write_csv


def test_the_generated_csv_has_every_kind_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "bench.csv"
    write_csv(path, rows=400, devices=8, cadence_s=10.0, seed=3)
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 400
    assert {r["kind"] for r in rows} == {"elevator", "lighting", "pump", "access"}
    assert len({r["device_id"] for r in rows}) == 8
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)


def test_bench_prints_the_median_and_the_phases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bench.csv"
    write_csv(path, rows=2_000, devices=20, cadence_s=10.0, seed=1)
    assert main(["bench", "backtest", "--csv", str(path), "--runs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 2_000
    assert result["bad_rows"] == 0
    assert result["runs"] == 2
    assert len(result["per_run_samples_per_s"]) == 2
    assert result["median_samples_per_s"] > 0
    assert set(result["median_phases_s"]) == {"read_and_decode", "detectors", "ticks", "tickets"}
