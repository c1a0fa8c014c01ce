"""Tables for the generic sensor-health detectors, run for every device kind: a stuck
(flat-lined) sensor and a reading outside its plausible band."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Severity
from detectors.generic_out_of_range import OutOfRangeDetector
from detectors.generic_stuck import StuckSensorDetector
from tests.detectors.series import (
    Case,
    Metrics,
    access_rows,
    apply,
    change,
    check_table_case,
    device,
    elevator_rows,
    lighting_rows,
    pump_rows,
)

Rows = Callable[[np.random.Generator, int], list[Metrics]]

HEALTHY: dict[str, Rows] = {
    "elevator": lambda r, n: elevator_rows(r, n),
    "lighting": lambda r, n: lighting_rows(r, n),
    "pump": lambda r, n: pump_rows(r, n),
    "access": lambda r, n: access_rows(r, n, badge_rate=0.3),
}
# the signal each kind's sensor faults hit in the simulator, and a plausible stuck value
SENSOR = {
    "elevator": ("car_vibration_rms_ms2", 0.2513),
    "lighting": ("voltage_v", 229.87),
    "pump": ("voltage_v", 231.02),
    "access": ("lock_actuation_ms", 121.3),
}
# a shift that takes the signal out of its band: gravity in an RMS, a lost neutral (+35 V),
# a bridged lock switch
SHIFT = {
    "elevator": 9.81,
    "lighting": 35.0,
    "pump": 35.0,
    "access": -119.0,
}
KINDS = list(HEALTHY)


def _shifted(metric: str, by: float) -> Callable[[int, Metrics], None]:
    def fn(_: int, row: Metrics) -> None:
        row[metric] = round(max(0.0, float(row[metric]) + by), 4)

    return fn


# -- stuck sensor --------------------------------------------------------------------------
# A judged signal (one that changed on >= 90 % of its first 50 live samples) repeating
# exactly for 30 live samples spanning 10 minutes.


def _stuck_cases(kind: str) -> list[Case]:
    healthy = HEALTHY[kind]
    metric, value = SENSOR[kind]
    return [
        Case(f"{kind}: healthy noisy", lambda r: healthy(r, 4000), 0),
        Case(
            f"{kind}: {metric} frozen",
            lambda r: change(healthy(r, 1200), 300, None, **{metric: value}),
            1,
            (300 + 300, 300 + 330),  # after 10 minutes of 2-s samples
        ),
        Case(
            f"{kind}: frozen for 5 minutes, then alive again",
            lambda r: change(healthy(r, 1200), 300, 450, **{metric: value}),
            0,
        ),
        Case(
            f"{kind}: a value repeated twice (rounding)",
            lambda r: change(healthy(r, 1200), 300, 302, **{metric: value}),
            0,
        ),
        Case(f"{kind}: restart", lambda r: healthy(r, 2000), 0, gaps=((1000, 3_600_000),)),
    ]


STUCK_CASES = [case for kind in KINDS for case in _stuck_cases(kind)]

STUCK_QUIET_CASES = [
    Case(
        "lighting off: 0 A is not a frozen sensor",
        lambda r: lighting_rows(r, 100) + lighting_rows(r, 2000, on=False),
        0,
    ),
    Case(
        "pump stopped: its idle readings are not judged",
        lambda r: apply(
            pump_rows(r, 100) + pump_rows(r, 2000, running=False),
            100,
            None,
            lambda _, row: row.update(accelerometer1_rms_g=0.0, current_a=0.0, voltage_v=0.0),
        ),
        0,
    ),
    Case(
        "a quantised signal (changes on half of the samples) is never judged",
        lambda r: apply(
            pump_rows(r, 3000),
            0,
            None,
            lambda i, row: row.update(voltage_v=230.0 + (i // 2) % 2 if i < 500 else 230.0),
        ),
        0,
    ),
    Case(
        "access: the lock time only counts when the lock moved",
        lambda r: apply(
            access_rows(r, 3000, badge_rate=0.3),
            300,
            None,
            lambda _, row: None if row["valid_credentials"] else row.update(lock_actuation_ms=0.0),
        ),
        0,
    ),
]


@pytest.mark.parametrize("case", STUCK_CASES, ids=lambda c: c.id)
def test_stuck_sensor_table(case: Case) -> None:
    kind = case.id.split(":")[0]
    check_table_case(StuckSensorDetector(device(kind)), case)


@pytest.mark.parametrize("case", STUCK_QUIET_CASES, ids=lambda c: c.id)
def test_stuck_sensor_ignores_signals_that_are_not_live(case: Case) -> None:
    kind = "lighting" if "lighting" in case.id else "access" if "access" in case.id else "pump"
    check_table_case(StuckSensorDetector(device(kind)), case)


def test_stuck_sensor_evidence() -> None:
    [(_, finding)] = check_table_case(
        StuckSensorDetector(device("lighting")), _stuck_cases("lighting")[1]
    )
    assert finding.fault_type == "stuck_sensor" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["metric"] == "voltage_v" and ev["value"] == 229.87
    assert ev["run_samples"] >= ev["threshold"] == 30 and ev["run_s"] >= ev["threshold_s"]


# -- out of range ---------------------------------------------------------------------------
# The median of the last 5 readings outside the kind's band for 3 samples in a row.


def _range_cases(kind: str) -> list[Case]:
    healthy = HEALTHY[kind]
    metric, _ = SENSOR[kind]
    return [
        Case(f"{kind}: healthy noisy", lambda r: healthy(r, 4000), 0),
        Case(
            f"{kind}: {metric} out of its band",
            lambda r: apply(healthy(r, 300), 100, None, _shifted(metric, SHIFT[kind])),
            1,
            (100 + 4, 100 + 10),  # the median turns at the 3rd, then 3 in a row
        ),
        Case(
            f"{kind}: single spike",
            lambda r: apply(healthy(r, 300), 100, 101, _shifted(metric, SHIFT[kind])),
            0,
        ),
        Case(
            f"{kind}: sensor glitch, two readings in a row",
            lambda r: apply(healthy(r, 300), 100, 102, _shifted(metric, SHIFT[kind])),
            0,
        ),
        Case(f"{kind}: restart", lambda r: healthy(r, 2000), 0, gaps=((1000, 3_600_000),)),
    ]


RANGE_CASES = [case for kind in KINDS for case in _range_cases(kind)]

RANGE_OTHER_CASES = [
    (
        "lighting",
        Case(
            "evening peak: the supply sags to 212 V",
            lambda r: apply(lighting_rows(r, 2000), 500, 1500, _shifted("voltage_v", -18.0)),
            0,
        ),
    ),
    (
        "lighting",
        Case(
            "meter behind the contactor reads 0 V while off",
            lambda r: change(lighting_rows(r, 2000, on=False), 0, None, voltage_v=0.0),
            0,
        ),
    ),
    (
        "pump",
        Case(
            "motor overheating: 140 degC",
            lambda r: change(pump_rows(r, 300), 100, None, motor_temperature_c=140.0),
            1,
        ),
    ),
    (
        "elevator",
        Case(
            "door close time of 0.1 s: a timing fault",
            lambda r: change(elevator_rows(r, 300), 100, None, door_close_time_s=0.1),
            1,
        ),
    ),
]


@pytest.mark.parametrize("case", RANGE_CASES, ids=lambda c: c.id)
def test_out_of_range_table(case: Case) -> None:
    kind = case.id.split(":")[0]
    check_table_case(OutOfRangeDetector(device(kind)), case)


@pytest.mark.parametrize(("kind", "case"), RANGE_OTHER_CASES, ids=lambda c: getattr(c, "id", c))
def test_out_of_range_other_signals(kind: str, case: Case) -> None:
    check_table_case(OutOfRangeDetector(device(kind)), case)


def test_out_of_range_evidence() -> None:
    [(_, finding)] = check_table_case(
        OutOfRangeDetector(device("lighting")), _range_cases("lighting")[1]
    )
    assert finding.fault_type == "out_of_range" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["metric"] == "voltage_v" and (ev["low"], ev["high"]) == (200.0, 250.0)
    assert ev["value"] == pytest.approx(265.0, abs=3.0) and len(ev["window"]) == 5


@pytest.mark.parametrize("kind", ["elevator", "access"])
def test_one_broken_sensor_opens_one_ticket(kind: str) -> None:
    """Implausible readings are left to out_of_range: the detectors that trend or compare
    the same signal (car vibration, lock actuation) stay silent, even once warmed up."""
    from detectors.registry import DetectorBank
    from tests.detectors.series import Clock, samples

    metric, _ = SENSOR[kind]
    rng = np.random.default_rng(9)
    healthy = 4 * 360  # 4 h of 10-s samples: the trends have left their warm-up
    rows = apply(HEALTHY[kind](rng, healthy + 720), healthy, None, _shifted(metric, SHIFT[kind]))
    clock = Clock()
    bank = DetectorBank(clock_ms=clock)
    found = []
    for sample in samples(device(kind), rows, period_ms=10_000):
        clock.now_ms = sample.ts_ms
        found += bank.on_sample(sample)
    assert [f.fault_type for f in found] == ["out_of_range"]
