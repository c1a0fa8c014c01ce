"""`facmon bench storm` runs end to end at tiny scale on real servers: every device of the
fleet gets its offline ticket, and no witness, which never stops, gets one.

Only the shape and the bookkeeping are checked: lag and ticket time depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_tiny_storm_tickets_every_silent_device_and_no_witness() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "storm", "--json", "--runs", "1"]
    argv += ["--devices", "50", "--witnesses", "10", "--warmup", "4", "--offline-after", "2"]
    argv += ["--ticket-timeout", "60"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert (report["devices"], report["witnesses"], report["database"]) == (50, 10, "sqlite")
    assert report["all_tickets"] is True
    (run,) = report["runs"]
    assert run["tickets"] == 50 and run["witnesses_offline"] == 0
    # the detector waits out the silence first; the ticket cannot come sooner
    assert run["ticket_s"] is not None and run["ticket_s"] >= 2.0
    assert run["lag_samples_before"] > 0 and run["lag_samples_storm"] > 0
    for window in (run["lag_before_s"], run["lag_storm_s"]):
        assert 0 < window["p50"] <= window["p99"]
    assert report["median"]["ticket_s"] == round(run["ticket_s"], 4)
    assert "[storm]" in done.stderr


def test_bad_arguments_exit_2_with_a_message() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "storm", "--devices", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "at least 1" in done.stderr
