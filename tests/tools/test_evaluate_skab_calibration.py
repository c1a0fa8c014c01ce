"""`facmon evaluate skab` calibrates honestly: the pump detector's drift allowance comes from
the fault-free files only (never from a labelled file or a label), the rows SKAB copied
into `anomaly-free.csv` from another recording are left out, the fault-free alarm rate is
also reported held out, and on the SKAB files in `../shared` the targets hold.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.pump_multivariate import PUMP_SIGNALS
from tools.evaluate_skab import (
    COPIED_TAIL_ROWS,
    FIT_ROWS,
    calibration_recording,
    evaluate_skab,
    format_report,
    read_skab_csv,
)
from tools.skab_calibration import drift_allowance

SKAB = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "skab"
ANOMALY_FREE = SKAB / "anomaly-free" / "anomaly-free.csv"


@pytest.fixture
def skab() -> Path:
    if not SKAB.is_dir():
        pytest.fail(f"SKAB data not found at {SKAB}: check out ../shared beside the project")
    return SKAB


def _recording(n: int, flow: np.ndarray, seed: int = 0) -> tuple[list[int], list[dict[str, float]]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row = {name: 10.0 + rng.normal(0, 0.05) for name in PUMP_SIGNALS}
        row["flow_rate_lpm"] = float(flow[i]) + rng.normal(0, 0.05)
        rows.append(row)
    return [1_000 * i for i in range(n)], rows


def test_the_allowance_is_the_relative_wander_of_a_fault_free_recording() -> None:
    """Flow drifting by 4 % over an hour: within a fit window and the 750 rows after it
    it wanders by at most ~1 % (1150 s of 3600 s of a 4 % drift); steady signals by less."""
    n = 3_600
    drifting = _recording(n, 100.0 * (1 + 0.04 * np.arange(n) / n))
    allowance = drift_allowance([drifting], FIT_ROWS)
    assert set(allowance) == set(PUMP_SIGNALS)
    assert 0.007 < allowance["flow_rate_lpm"] < 0.012
    assert allowance["current_a"] < 0.6 * allowance["flow_rate_lpm"]  # noise only
    steady = drift_allowance([_recording(n, np.full(n, 100.0))], FIT_ROWS)
    assert steady["flow_rate_lpm"] < 0.002
    assert drift_allowance([_recording(900, np.full(900, 100.0))], FIT_ROWS) == {}  # too short


def test_the_copied_tail_of_anomaly_free_is_left_out(skab: Path) -> None:
    data = read_skab_csv(ANOMALY_FREE, "anomaly-free/anomaly-free.csv")
    ts_ms, rows = calibration_recording(data)
    assert len(rows) == len(data.rows) - COPIED_TAIL_ROWS["anomaly-free.csv"]
    assert ts_ms[-1] < data.ts_ms[-COPIED_TAIL_ROWS["anomaly-free.csv"]]


def test_labelled_files_do_not_move_the_calibration(skab: Path, tmp_path: Path) -> None:
    """The allowance depends on the fault-free file alone: adding labelled files (or
    flipping their labels) leaves it, and the fault-free figures, unchanged."""
    (tmp_path / "anomaly-free").mkdir()
    (tmp_path / "valve1").mkdir()
    shutil.copy(ANOMALY_FREE, tmp_path / "anomaly-free" / "anomaly-free.csv")
    shutil.copy(skab / "valve1" / "3.csv", tmp_path / "valve1" / "3.csv")
    one = evaluate_skab(tmp_path)
    flipped = (skab / "valve1" / "5.csv").read_text().replace(";0.0;0.0", ";1.0;0.0")
    (tmp_path / "valve1" / "5.csv").write_text(flipped)
    two = evaluate_skab(tmp_path)
    assert one["drift_allowance"] and one["drift_allowance"] == two["drift_allowance"]
    for key in ("unlabelled_far", "unlabelled_far_folds", "unlabelled_rows"):
        assert one[key] == two[key], key
    assert one["files"] == 1 and two["files"] == 2
    uncalibrated = evaluate_skab(tmp_path, calibrate=False)
    assert uncalibrated["drift_allowance"] == {}
    assert uncalibrated["unlabelled_far_held_out"] is None


def test_targets_on_the_skab_files_at_hand(skab: Path) -> None:
    """valve1 and anomaly-free, as `facmon evaluate skab --data ../shared/datasets/skab`
    measured them: F1 0.853, FAR 2.62 %, fault-free alarmed 5.1 % (in-sample allowance),
    8.46 % and 7.27 % (each half with the allowance of the other). Without the allowance
    the fault-free file is alarmed 95 %."""
    report = evaluate_skab(skab)
    assert report["files"] == 16 and report["unlabelled_files"] == 1
    assert report["f1"] >= 0.80 and report["far"] <= 10.0
    assert report["unlabelled_far"] <= 10.0
    assert report["unlabelled_far_held_out"] <= 10.0
    assert len(report["unlabelled_far_folds"]) == 2
    assert report["unlabelled_far_held_out"] == max(report["unlabelled_far_folds"])
    assert report["missed_anomalies"] <= 1
    text = format_report(report)
    assert "Conv-AE" in text and "the other half" in text
    assert "drift allowance from the fault-free files" in text
    assert evaluate_skab(skab, calibrate=False)["unlabelled_far"] > 50.0
