"""Tables for the elevator detectors beyond door slowing: door reversals, levelling error,
the motor-current and car-vibration trends, entrapment and controller fault codes.

Each row feeds a seeded full-metric lift series (`series.elevator_rows`) to a fresh
detector with its default parameters: the fault fires once, with the right type,
severity and evidence; a healthy noisy series, a single spike, a sensor glitch, a normal
daily peak and a restart (a gap in the samples) do not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Severity
from contract.payload import Event
from detectors.elevator_entrapment import EntrapmentDetector
from detectors.elevator_fault_code import FaultCodeDetector
from detectors.elevator_levelling import LevellingErrorDetector
from detectors.elevator_motor_current import MotorCurrentTrendDetector
from detectors.elevator_reversals import DoorReversalDetector
from detectors.elevator_vibration import CarVibrationTrendDetector
from tests.detectors.series import (
    PERIOD_MS,
    T0,
    Case,
    Metrics,
    apply,
    case_samples,
    change,
    check_table_case,
    device,
    elevator_rows,
    feed,
    samples,
)

ELEVATOR = device("elevator")
Shape = Callable[[int, Metrics], None]
HOUR_2S = 1800  # samples in an hour at the demo's 2-s rate


def _rows(r: np.random.Generator, n: int, **kw: float) -> list[Metrics]:
    return elevator_rows(r, n, **kw)


# -- door reversals -------------------------------------------------------------------
# Defaults: baseline from the first 300 trips, window of 200 trips, limit
# max(3 x baseline, baseline + 0.15) reversals per trip, 3 trip samples in a row.
BUSY = {"trips_per_moving": 2.0}  # one trip per sample on average


def _reversing(per_trip: float, seed: int = 0) -> Shape:
    rng = np.random.default_rng(seed)

    def fn(_: int, row: Metrics) -> None:
        row["door_reversals"] = int(rng.poisson(per_trip * int(row["trips"])))

    return fn


REVERSAL_CASES = [
    Case("healthy noisy", lambda r: _rows(r, 6000, **BUSY), 0),
    Case(
        "light curtain fault: 0.6 reversals a trip fires once",
        lambda r: apply(_rows(r, 2000, **BUSY), 800, None, _reversing(0.6)),
        1,
        (800 + 30, 800 + 150),
    ),
    Case(
        "a passenger holds the door: 5 reversals in one sample",
        lambda r: change(_rows(r, 2000, **BUSY), 1000, 1001, door_reversals=5),
        0,
    ),
    Case(
        "sensor glitch: trips stuck at zero on samples with reversals",
        lambda r: change(_rows(r, 2000, **BUSY), 1000, 1003, trips=0, door_reversals=3),
        0,
    ),
    Case(
        "morning rush: four times the trips, crowded cars reverse twice as often",
        lambda r: apply(
            _rows(r, 800, **BUSY) + _rows(r, 1500, trips_per_moving=8.0),
            800,
            None,
            _reversing(0.06),
        ),
        0,
    ),
    Case(
        "quiet night: a trip now and then",
        lambda r: _rows(r, 800, **BUSY) + _rows(r, 6000, moving_share=0.05),
        0,
    ),
    Case(
        "restart: an hour of silence",
        lambda r: _rows(r, 3000, **BUSY),
        0,
        gaps=((1500, 3_600_000),),
    ),
    Case(
        "faulty from the start is learnt as the baseline",
        lambda r: apply(_rows(r, 3000, **BUSY), 0, None, _reversing(0.6)),
        0,
    ),
]


@pytest.mark.parametrize("case", REVERSAL_CASES, ids=lambda c: c.id)
def test_door_reversals_table(case: Case) -> None:
    check_table_case(DoorReversalDetector(ELEVATOR), case)


def test_door_reversals_evidence() -> None:
    [(_, finding)] = check_table_case(DoorReversalDetector(ELEVATOR), REVERSAL_CASES[1])
    assert finding.fault_type == "door_reversals" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["baseline"] == pytest.approx(0.03, abs=0.02)
    assert ev["threshold"] == pytest.approx(ev["baseline"] + 0.15, abs=1e-3)
    assert ev["value"] > ev["threshold"]
    assert ev["trips"] >= 200
    assert ev["reversals"] == pytest.approx(ev["value"] * ev["trips"], rel=1e-3)


# -- levelling error -------------------------------------------------------------------
# Default limit 10 mm on the median |error| of the last 15 standing samples, 5 in a row.


def _mislevelled(offset_mm: float) -> Shape:
    def fn(_: int, row: Metrics) -> None:
        row["levelling_error_mm"] = round(float(row["levelling_error_mm"]) + offset_mm, 2)

    return fn


LEVELLING_CASES = [
    Case("healthy noisy", lambda r: _rows(r, 5000), 0),
    Case(
        "stops 15 mm low: fires once",
        lambda r: apply(_rows(r, 600), 300, None, _mislevelled(-15.0)),
        1,
        (300 + 10, 300 + 60),
    ),
    Case(
        "single spike: one stop 400 mm off",
        lambda r: change(_rows(r, 600), 300, 301, levelling_error_mm=400.0, speed_ms=0.0),
        0,
    ),
    Case(
        "sensor glitch: five readings tripled",
        lambda r: apply(
            _rows(r, 600), 300, 305, lambda _, row: row.update(levelling_error_mm=24.0)
        ),
        0,
    ),
    Case(
        "readings while the car runs are not stops",
        lambda r: apply(
            _rows(r, 600, moving_share=0.95),
            100,
            None,
            lambda _, row: row.update(levelling_error_mm=300.0) if row["speed_ms"] else None,
        ),
        0,
    ),
    Case("morning rush: few standing samples", lambda r: _rows(r, 5000, moving_share=0.95), 0),
    Case(
        "between floors (an entrapment) is not a levelling error",
        lambda r: change(_rows(r, 600), 300, 400, position_floor=3.5, levelling_error_mm=480.0),
        0,
    ),
    Case("restart", lambda r: _rows(r, 2000), 0, gaps=((1000, 3_600_000),)),
    Case(
        "hovering at the limit: fires once",
        lambda r: apply(_rows(r, 3000), 300, None, _mislevelled(10.5)),
        1,
    ),
]


@pytest.mark.parametrize("case", LEVELLING_CASES, ids=lambda c: c.id)
def test_levelling_error_table(case: Case) -> None:
    check_table_case(LevellingErrorDetector(ELEVATOR), case)


def test_levelling_error_evidence() -> None:
    [(_, finding)] = check_table_case(LevellingErrorDetector(ELEVATOR), LEVELLING_CASES[1])
    ev = finding.evidence
    assert finding.severity is Severity.MAJOR
    assert ev["metric"] == "levelling_error_mm" and ev["threshold"] == 10.0
    assert ev["value"] == pytest.approx(15.0, abs=2.0)
    assert len(ev["window"]) == 15


# -- motor current and car vibration trends -----------------------------------------------
# 10-s samples; bucket medians of moving samples every 10 min, baseline from 6 buckets.
TREND_PERIOD_MS = 10_000
PER_HOUR = 360  # 10-s samples an hour


def _trend(
    metric: str,
    r: np.random.Generator,
    hours: float,
    start_h: float,
    shape: Callable[[float], float],
    **kw: float,
) -> list[Metrics]:
    """Healthy for `start_h`, then the running value moves by shape(hours since start)."""
    rows = _rows(r, int(hours * PER_HOUR), **kw)
    start = int(start_h * PER_HOUR)

    def fn(index: int, row: Metrics) -> None:
        if row["speed_ms"]:
            row[metric] = round(float(row[metric]) + shape(index / PER_HOUR), 4)

    return apply(rows, start, None, fn)


def _trend_cases(metric: str, base: float, rate: float) -> list[Case]:
    """The same table for both trend detectors; `rate` per hour crosses the rise margin
    (15-20 %) after about three hours and the limit (30-50 %) after about six."""
    spike = 300.0 if metric == "motor_current_a" else 9.0
    return [
        Case(
            "healthy noisy, 12 h",
            lambda r: _trend(metric, r, 12, 12, lambda h: 0.0),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "wear ramp is predicted before the limit",
            lambda r: _trend(metric, r, 10, 2, lambda h: rate * h),
            1,
            (4 * PER_HOUR, 7 * PER_HOUR),  # the limit is 6-6.5 h after the start
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "step past the limit",
            lambda r: _trend(metric, r, 4, 2, lambda h: 0.6 * base),
            1,
            (2 * PER_HOUR, 3 * PER_HOUR),
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "single spike",
            lambda r: change(_trend(metric, r, 6, 6, lambda h: 0.0), 1000, 1001, **{metric: spike}),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "sensor glitch: ten minutes of zeros",
            lambda r: change(_trend(metric, r, 6, 6, lambda h: 0.0), 1000, 1060, **{metric: 0.0}),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "normal daily peak: +10 % for two hours (heavier cars)",
            lambda r: _trend(metric, r, 8, 3, lambda h: 0.1 * base if h < 2 else 0.0),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "standing samples are not the ride",
            lambda r: apply(
                _rows(r, 6 * PER_HOUR),
                720,
                None,
                lambda _, row: None if row["speed_ms"] else row.update({metric: 2 * spike}),
            ),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
        Case(
            "restart: two hours of silence",
            lambda r: _trend(metric, r, 8, 8, lambda h: 0.0),
            0,
            period_ms=TREND_PERIOD_MS,
            gaps=((3 * PER_HOUR, 7_200_000),),
        ),
        Case(
            "quiet night: few moving samples",
            lambda r: _trend(metric, r, 12, 12, lambda h: 0.0, moving_share=0.05),
            0,
            period_ms=TREND_PERIOD_MS,
        ),
    ]


CURRENT_CASES = _trend_cases("motor_current_a", 42.0, 2.0)
VIBRATION_CASES = _trend_cases("car_vibration_rms_ms2", 0.25, 0.02)


@pytest.mark.parametrize("case", CURRENT_CASES, ids=lambda c: c.id)
def test_motor_current_trend_table(case: Case) -> None:
    check_table_case(MotorCurrentTrendDetector(ELEVATOR), case)


@pytest.mark.parametrize("case", VIBRATION_CASES, ids=lambda c: c.id)
def test_car_vibration_trend_table(case: Case) -> None:
    check_table_case(CarVibrationTrendDetector(ELEVATOR), case)


@pytest.mark.parametrize(
    ("cls", "case", "base", "rate", "factor"),
    [
        pytest.param(MotorCurrentTrendDetector, CURRENT_CASES[1], 42.0, 2.0, 1.3, id="current"),
        pytest.param(
            CarVibrationTrendDetector, VIBRATION_CASES[1], 0.25, 0.02, 1.5, id="vibration"
        ),
    ],
)
def test_trend_prediction_evidence_covers_the_truth(
    cls: type[MotorCurrentTrendDetector | CarVibrationTrendDetector],
    case: Case,
    base: float,
    rate: float,
    factor: float,
) -> None:
    [(index, finding)] = check_table_case(cls(ELEVATOR), case)
    ev = finding.evidence
    assert ev["baseline"] == pytest.approx(base, rel=0.03)
    assert ev["threshold"] == pytest.approx(factor * ev["baseline"], rel=1e-3)
    assert ev["value"] < ev["threshold"], "predicted, not crossed"
    low, high = ev["slope_95"]
    assert low <= rate <= high
    assert low > 0
    elapsed_h = index / PER_HOUR - 2
    true_hours = (ev["threshold"] - (base + rate * elapsed_h)) / rate
    hours_low, hours_high = ev["hours_to_limit_95"]
    assert hours_low <= true_hours <= hours_high
    assert ev["hours_to_limit"] > 0
    assert "in about" in finding.summary


def test_trend_past_the_limit_has_no_time_to_limit() -> None:
    [(_, finding)] = check_table_case(MotorCurrentTrendDetector(ELEVATOR), CURRENT_CASES[2])
    assert finding.evidence["value"] >= finding.evidence["threshold"]
    assert finding.evidence["hours_to_limit"] is None
    assert "past the" in finding.summary


# -- entrapment -----------------------------------------------------------------------
# Standing, doors closed, > 0.1 floor off a landing, for 30 s and 2 samples; or the event.


def _trapped(r: np.random.Generator, before: int, during: int, after: int = 50) -> list[Metrics]:
    rows = _rows(r, before + during + after)
    return change(
        rows,
        before,
        before + during,
        speed_ms=0.0,
        trips=0,
        doors_closed=True,
        position_floor=7.45,
    )


ENTRAPMENT_CASES = [
    Case("healthy noisy", lambda r: _rows(r, 5000), 0),
    Case("stopped between floors for 2 min", lambda r: _trapped(r, 100, 60), 1, (115, 115)),
    Case("one glitched position reading", lambda r: _trapped(r, 100, 1), 0),
    Case("a 20-s hold between floors, then on its way", lambda r: _trapped(r, 100, 10), 0),
    Case(
        "between floors with the doors open (a rescue under way) is not an entrapment",
        lambda r: change(_trapped(r, 100, 60), 100, 160, doors_closed=False),
        0,
    ),
    Case(
        "a glitch in the middle does not make it two",
        lambda r: change(_trapped(r, 100, 120), 160, 161, speed_ms=1.6),
        1,
    ),
    Case("restart", lambda r: _rows(r, 2000), 0, gaps=((1000, 600_000),)),
    Case(
        "two entrapments an hour apart are two findings",
        lambda r: _trapped(r, 100, 60, 0) + _trapped(r, HOUR_2S, 60),
        2,
    ),
]


@pytest.mark.parametrize("case", ENTRAPMENT_CASES, ids=lambda c: c.id)
def test_entrapment_table(case: Case) -> None:
    check_table_case(EntrapmentDetector(ELEVATOR), case)


def test_entrapment_finding_is_critical_with_evidence() -> None:
    [(index, finding)] = check_table_case(EntrapmentDetector(ELEVATOR), ENTRAPMENT_CASES[1])
    assert finding.severity is Severity.CRITICAL and finding.fault_type == "entrapment"
    assert finding.onset_ms == T0 + 100 * PERIOD_MS
    ev = finding.evidence
    assert ev["source"] == "telemetry" and ev["value"] == 7.45
    assert ev["stopped_s"] == (index - 100) * PERIOD_MS / 1000 >= ev["threshold_s"] == 30.0


def test_entrapment_event_fires_at_once_and_telemetry_adds_nothing() -> None:
    detector = EntrapmentDetector(ELEVATOR)
    batch = case_samples(ELEVATOR, ENTRAPMENT_CASES[1])
    assert feed(detector, batch[:100]) == []
    assert detector.fault_active() is False
    [finding] = detector.on_event(Event(ELEVATOR, batch[100].ts_ms, 999, "entrapment"))
    assert finding.severity is Severity.CRITICAL and finding.evidence["source"] == "event"
    assert detector.fault_active() is True
    assert feed(detector, batch[100:160]) == []  # the same episode
    assert detector.on_event(Event(ELEVATOR, batch[120].ts_ms, 1000, "entrapment")) == []
    feed(detector, batch[160:])
    assert detector.fault_active() is False  # released: the next one is a new finding
    assert len(detector.on_event(Event(ELEVATOR, batch[-1].ts_ms, 1001, "entrapment"))) == 1


def test_other_events_are_not_entrapments() -> None:
    detector = EntrapmentDetector(ELEVATOR)
    assert detector.on_event(Event(ELEVATOR, T0, 1, "door_obstructed")) == []
    assert detector.fault_active() is None


# -- controller fault codes -------------------------------------------------------------
# A code set for 60 s and 2 samples, or the event; re-armed after 3 samples of 0.

FAULT_CODE_CASES = [
    Case("healthy", lambda r: _rows(r, 3000), 0),
    Case(
        "code 1003 for five minutes",
        lambda r: change(_rows(r, 400), 100, 250, fault_code=1003),
        1,
        (130, 130),
    ),
    Case("one sample with a code", lambda r: change(_rows(r, 400), 100, 101, fault_code=7), 0),
    Case(
        "a code flashed for 20 s (a lock contact bouncing)",
        lambda r: change(_rows(r, 400), 100, 110, fault_code=1201),
        0,
    ),
    Case(
        "the code changes during one fault: one finding",
        lambda r: change(
            change(_rows(r, 400), 100, 200, fault_code=1003), 200, 300, fault_code=1101
        ),
        1,
    ),
    Case(
        "cleared, then set again: two findings",
        lambda r: change(
            change(_rows(r, 600), 100, 200, fault_code=1003), 300, 400, fault_code=1003
        ),
        2,
    ),
    Case(
        "cleared for one sample only: one finding",
        lambda r: change(
            change(_rows(r, 600), 100, 200, fault_code=1003), 201, 300, fault_code=1003
        ),
        1,
    ),
    Case("restart", lambda r: _rows(r, 2000), 0, gaps=((1000, 600_000),)),
]


@pytest.mark.parametrize("case", FAULT_CODE_CASES, ids=lambda c: c.id)
def test_fault_code_table(case: Case) -> None:
    check_table_case(FaultCodeDetector(ELEVATOR), case)


def test_fault_code_evidence_lists_the_codes() -> None:
    [(_, finding)] = check_table_case(FaultCodeDetector(ELEVATOR), FAULT_CODE_CASES[1])
    assert finding.severity is Severity.MAJOR
    assert finding.evidence["value"] == 1003 and finding.evidence["codes"] == [1003]
    assert finding.onset_ms == T0 + 100 * PERIOD_MS


def test_fault_code_event_fires_at_once() -> None:
    detector = FaultCodeDetector(ELEVATOR)
    feed(detector, samples(ELEVATOR, _rows(np.random.default_rng(1), 50)))
    [finding] = detector.on_event(Event(ELEVATOR, T0 + 100_000, 60, "fault_code", {"code": 17}))
    assert finding.evidence["source"] == "event" and "17" in finding.summary
    assert detector.fault_active() is True
    assert detector.on_event(Event(ELEVATOR, T0 + 101_000, 61, "fault_code")) == []
