"""`facmon bench ingest` runs end to end on real servers and reports consistent figures.

Only the shape and the bookkeeping are checked: speeds depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_bench_ingest_reports_consistent_figures() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "ingest"]
    argv += ["--messages", "2000", "--devices", "20", "--runs", "1", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    for key in ("ingest_msgs_per_s", "raw_msgs_per_s", "ratio"):
        assert isinstance(report[key], float | int) and report[key] > 0, key
    assert report["ratio"] == pytest.approx(
        report["ingest_msgs_per_s"] / report["raw_msgs_per_s"], rel=1e-3
    )
    assert report["count_ok"] is True
    assert [run["stored"] for run in report["per_run"]] == [2000]
    assert (report["messages"], report["devices"], report["runs"]) == (2000, 20, 1)
    assert "run 1/1: ingest" in done.stderr
