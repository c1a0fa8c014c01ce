"""`facmon bench backtest` generates a valid CSV of every device kind and prints its
figures: every generated row replays as a sample, none is a bad row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from detectors.offline import OfflineDetector
from facmon.cli import main
from facmon.cli.backtest import replay_database, replay_options
from facmon.settings import Settings
from ingest.backtest.csv_source import read_csv
from ingest.backtest.runner import Replay
from tools.bench_backtest import _calls_only_bank, _floor_bank, write_csv


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


def test_the_floor_replays_without_running_a_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The floor looks every device's detectors up and runs none of them; it is printed
    next to the real figure."""
    path = tmp_path / "bench.csv"
    write_csv(path, rows=1_000, devices=10, cadence_s=10.0, seed=2)
    assert main(["bench", "backtest", "--csv", str(path), "--runs", "1", "--floor"]) == 0
    out = capsys.readouterr().out
    assert "without detectors (the floor): median" in out
    assert "every detector called, doing nothing: median" in out

    def must_not_run(self: OfflineDetector, sample: object) -> list[object]:
        raise AssertionError("the floor ran a detector")

    monkeypatch.setattr(OfflineDetector, "update", must_not_run)
    floor = Replay(replay_database(), replay_options(Settings()), _floor_bank)
    with path.open(newline="", encoding="utf-8") as stream:
        floor.feed(read_csv(stream))
    assert floor.stats.samples == 1_000 and floor.findings == []
    assert len(floor.bank) == 10  # every device's detectors were still looked up
    calls = Replay(replay_database(), replay_options(Settings()), _calls_only_bank)
    with path.open(newline="", encoding="utf-8") as stream:
        calls.feed(read_csv(stream))
    assert calls.stats.samples == 1_000 and calls.findings == [] and len(calls.bank) == 10
