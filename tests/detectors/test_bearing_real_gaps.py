"""Bearing wear on the real IMS run to failure, with the recording gaps and level shifts
of the other IMS tests cut into it.

IMS test 2 (`../shared/datasets/real/ims-test2.csv`) has no gap; test 1 had a 148 h gap
after its first snapshots, after which every bearing read 16-24 % higher. Each case
here moves the snapshots from one point on by a gap and scales them by a factor (a
re-seated sensor), then checks the corpus targets on `pump_bearing_wear` alone: the
failing bearing warned at least 24 h before the end, no bearing warned before the
midpoint. Skipped where the corpus is not checked out beside the project.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.pump_bearing import BearingWearDetector

CORPUS = Path(__file__).resolve().parents[3] / "shared/datasets/real/ims-test2.csv"
HOUR_MS = 3_600_000

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason=f"no corpus at {CORPUS}")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _rows() -> list[tuple[int, str, float]]:
    with CORPUS.open() as f:
        return [
            (_ms(r["ts"]), r["device_id"], float(r["accelerometer1_rms_g"]))
            for r in csv.DictReader(f)
        ]


@pytest.mark.parametrize(
    ("snapshot", "gap_h", "factor"),
    [
        (0, 0.0, 1.0),  # as recorded
        (10, 148.0, 1.2),  # IMS test 1: the first 10 snapshots, 148 h, +20 %
        (10, 148.0, 0.85),
        (400, 48.0, 1.1),  # two days lost in the middle of the healthy half
        (400, 48.0, 0.85),
        (100, 72.0, 1.25),
        (700, 30.0, 1.2),  # a gap while the failing bearing already wears
    ],
    ids=lambda v: str(v),
)
def test_failing_bearing_warned_a_day_ahead_and_none_in_the_first_half(
    snapshot: int, gap_h: float, factor: float
) -> None:
    rows = _rows()
    start = rows[0][0]
    cut = start + snapshot * 600_000 - 1  # snapshots are 10 min apart
    moved = [
        (t, d, v) if t < cut else (t + int(gap_h * HOUR_MS), d, v * factor) for t, d, v in rows
    ]
    end = moved[-1][0]
    midpoint = (start + end) // 2
    detectors = {
        d: BearingWearDetector(DeviceRef("ims", "test2", "pump", d))
        for d in {d for _, d, _ in rows}
    }
    first: dict[str, int] = {}
    for seq, (t, d, v) in enumerate(moved):
        sample = Sample(detectors[d].device, t, seq, {"accelerometer1_rms_g": v, "running": True})
        if detectors[d].update(sample):
            first.setdefault(d, t)
    assert "t2-b1" in first, "the failing bearing was never warned"
    assert end - first["t2-b1"] >= 24 * HOUR_MS, (end - first["t2-b1"]) / HOUR_MS
    assert all(t >= midpoint for t in first.values()), {
        d: (t - start) / HOUR_MS for d, t in first.items()
    }
