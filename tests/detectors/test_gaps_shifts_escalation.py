"""The learnt cadence, and what the trend detectors do with gaps, level shifts, repairs
and a fault that keeps getting worse."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from contract.finding import Finding, Severity
from contract.payload import Sample
from detectors.cadence import Cadence
from detectors.elevator_vibration import CarVibrationTrendDetector
from detectors.lighting_flicker import FlickerDetector
from detectors.pump_bearing import BearingWearDetector
from tests.detectors.series import T0, Metrics, device, elevator_rows, lighting_rows

MIN_MS = 60_000
HOUR_MS = 60 * MIN_MS
BASE = 0.216


def test_cadence_learns_the_rhythm_and_tells_gaps_from_a_new_one() -> None:
    c = Cadence()
    assert not any(c.observe(T0 + i * 1000) for i in range(20))
    assert c.expected_ms == 1000
    assert c.observe(T0 + 20_000 + 60_000)  # a minute of silence on a 1-s device
    assert c.expected_ms == 1000  # the gap is not learnt
    t = T0 + 80_000
    seen = []
    for _ in range(5):
        t += 600_000
        seen.append(c.observe(t))
    assert seen == [True, True, False, False, False]  # then 10 min is the rhythm
    assert c.expected_ms == 600_000


def test_configured_cadence_is_not_relearnt() -> None:
    c = Cadence(expected_s=10.0)
    assert not c.observe(T0)
    assert [c.observe(T0 + k * 600_000) for k in (1, 2, 3, 4)] == [True] * 4
    assert c.expected_ms == 10_000


def _pump(
    detector: BearingWearDetector, hours: float, level: object, start_ms: int, every_ms: int
) -> list[tuple[int, Finding]]:
    """Feed `hours` of running samples; `level(t_h)` is the vibration, t_h from start."""
    rng = np.random.default_rng(start_ms % 2**32)
    out = []
    for i in range(int(hours * HOUR_MS / every_ms)):
        t = start_ms + i * every_ms
        value = float(level(i * every_ms / HOUR_MS)) + float(rng.normal(0, 0.0035))  # type: ignore[operator]
        sample = Sample(detector.device, t, i, {"accelerometer1_rms_g": value, "running": True})
        out += [(t, f) for f in detector.update(sample)]
    return out


@pytest.mark.parametrize("every_ms", [MIN_MS, 10 * MIN_MS], ids=["1min", "10min"])
@pytest.mark.parametrize("ratio", [1.2, 0.85])
def test_a_stable_shift_after_a_gap_is_the_new_baseline(every_ms: int, ratio: float) -> None:
    bearing = BearingWearDetector(device("pump"))
    assert _pump(bearing, 2, lambda t: BASE, T0, every_ms) == []
    after = T0 + 2 * HOUR_MS + 148 * HOUR_MS
    found = _pump(bearing, 24, lambda t: BASE * ratio, after, every_ms)
    assert found == []
    assert bearing.baseline == pytest.approx(BASE * ratio, rel=0.02)
    assert bearing.shifts and bearing.shifts[-1]["after_gap"] is True


def test_wear_after_a_gap_is_not_learnt_as_a_shift() -> None:
    bearing = BearingWearDetector(device("pump"))
    _pump(bearing, 2, lambda t: BASE, T0, MIN_MS)
    after = T0 + 50 * HOUR_MS
    found = _pump(bearing, 12, lambda t: BASE * 1.1 + 0.01 * t, after, MIN_MS)
    assert found, "a ramp after the gap must be judged against the old baseline"
    assert bearing.baseline == pytest.approx(BASE, rel=0.02)


def test_a_step_without_a_gap_moves_the_baseline_but_not_the_limit() -> None:
    bearing = BearingWearDetector(device("pump"))
    found = _pump(bearing, 48, lambda t: BASE * (1.22 if t >= 20 else 1.0), T0, MIN_MS)
    assert found == []
    assert bearing.baseline == pytest.approx(BASE * 1.22, rel=0.02)
    assert bearing.limit == pytest.approx(BASE * 1.5, rel=0.02)
    assert bearing.shifts[-1]["after_gap"] is False


def test_a_tripped_trend_escalates_while_the_vibration_keeps_rising() -> None:
    bearing = BearingWearDetector(device("pump"))
    found = _pump(bearing, 12, lambda t: BASE if t < 1 else BASE + 0.1 * (t - 1), T0, MIN_MS)
    first, *more = [f for _, f in found]
    assert not first.evidence["escalation"] and first.severity is Severity.MAJOR
    assert len(more) >= 3, "a rise to 5 x baseline must report again"
    levels = [f.evidence["value"] for f in [first, *more]]
    assert all(b >= a * 1.25 for a, b in itertools.pairwise(levels))
    assert all(f.evidence["escalation"] for f in more)
    assert all(f.severity is Severity.CRITICAL for f in more if f.evidence["value"] >= 0.324)


def test_relearn_after_a_repair_learns_the_new_bearing() -> None:
    bearing = BearingWearDetector(device("pump"))
    _pump(bearing, 4, lambda t: BASE if t < 1 else BASE * 2, T0, MIN_MS)
    assert bearing.fault_active() is True
    bearing.relearn(T0 + 4 * HOUR_MS)
    assert bearing.baseline is None and bearing.fault_active() is None
    found = _pump(bearing, 4, lambda t: BASE * 0.8, T0 + 5 * HOUR_MS, MIN_MS)
    assert found == []
    assert bearing.baseline == pytest.approx(BASE * 0.8, rel=0.02)
    assert bearing.fault_active() is False


def _lift(detector: CarVibrationTrendDetector, rows: list[Metrics], start_ms: int) -> list[Finding]:
    out: list[Finding] = []
    for i, row in enumerate(rows):
        sample = Sample(detector.device, start_ms + i * 10_000, i, dict(row))
        out += detector.update(sample)
    return out


def _scaled(rows: list[Metrics], ratio: float) -> list[Metrics]:
    return [
        {**r, "car_vibration_rms_ms2": round(float(r["car_vibration_rms_ms2"]) * ratio, 4)}
        for r in rows
    ]


def test_lift_trend_adopts_a_stable_shift_after_a_gap() -> None:
    lift = CarVibrationTrendDetector(device("elevator"))
    rng = np.random.default_rng(5)
    day = 8640  # 10-s samples
    assert _lift(lift, elevator_rows(rng, day), T0) == []
    baseline = lift.trend.baseline
    assert baseline is not None
    after = T0 + day * 10_000 + 24 * HOUR_MS
    assert _lift(lift, _scaled(elevator_rows(rng, day), 1.2), after) == []
    assert lift.trend.baseline == pytest.approx(baseline * 1.2, rel=0.05)


def test_lift_trend_ignores_a_step_without_a_gap() -> None:
    lift = CarVibrationTrendDetector(device("elevator"))
    rng = np.random.default_rng(6)
    day = 8640
    rows = elevator_rows(rng, day) + _scaled(elevator_rows(rng, 2 * day), 1.22)
    assert _lift(lift, rows, T0) == []


def test_flicker_window_never_joins_two_sides_of_a_gap() -> None:
    flicker = FlickerDetector(device("lighting"))
    rng = np.random.default_rng(7)
    rows = lighting_rows(rng, 1200)
    seen = []
    for i, row in enumerate(rows):
        t = T0 + i * 2000 + (0 if i < 600 else 3 * HOUR_MS)
        if i >= 600:
            row = {**row, "current_a": round(float(row["current_a"]) * 0.5, 4)}  # dimmed
        seen += flicker.update(Sample(flicker.device, t, i, row))
        if i == 600:
            assert flicker.score(t) is None  # settling again after the gap
    assert seen == []
