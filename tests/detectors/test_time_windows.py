"""Detectors with windows and warm-ups in time: the same fault found at one reading a
second and at one every ten minutes, a gap that is not a restart, and a relearn after a
verified repair. Also the pump anomaly detector's stable-shift rule and the offline
grace before a device's interval is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Finding
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.access_lock_slowing import LockSlowingDetector
from detectors.base import Detector
from detectors.elevator_door import DoorSlowingDetector
from detectors.elevator_levelling import LevellingErrorDetector
from detectors.lighting_illuminance import IlluminanceLowDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.offline import OfflineConfig, OfflineDetector
from detectors.pump_multivariate import PumpMultivariateDetector
from tests.detectors.series import T0, Clock

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
CADENCES = {"1s": SECOND, "10min": 10 * MINUTE}

Row = Callable[[int, np.random.Generator], dict[str, MetricValue]]


def run(
    detector: Detector,
    row: Row,
    period_ms: int,
    span_ms: int,
    seed: int = 1,
    gap: tuple[int, int] | None = None,
    t0: int = T0,
) -> list[tuple[int, Finding]]:
    """Feed `row(ms since t0, rng)` every `period_ms` for `span_ms`, silent during `gap`
    (start, length); returns (ms since t0, finding)."""
    rng = np.random.default_rng(seed)
    found: list[tuple[int, Finding]] = []
    t, seq = 0, 0
    while t < span_ms:
        if gap is not None and gap[0] <= t < gap[0] + gap[1]:
            t = gap[0] + gap[1]
            continue
        sample = Sample(detector.device, t0 + t, seq, row(t, rng))
        found += [(t, f) for f in detector.update(sample)]
        t += period_ms
        seq += 1
    return found


# -- actuation slowing (door close time, lock actuation) ------------------------------


def door(slow_from_ms: int | None, rate_s_per_h: float = 2.0) -> Row:
    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        wear = 0.0 if slow_from_ms is None or t < slow_from_ms else (t - slow_from_ms) / HOUR
        return {"door_close_time_s": float(3.0 + rate_s_per_h * wear + rng.normal(0, 0.08))}

    return row


DOOR = DeviceRef("s", "b", "elevator", "e1")
LOCK = DeviceRef("s", "b", "access", "a1")


@pytest.mark.parametrize("cadence", CADENCES)
def test_door_slowing_is_found_at_both_cadences(cadence: str) -> None:
    period = CADENCES[cadence]
    healthy = 3 * HOUR if cadence == "1s" else 2 * 24 * HOUR
    found = run(DoorSlowingDetector(DOOR), door(healthy), period, healthy + 3 * 24 * HOUR)
    assert found, f"nothing at {cadence}"
    at, finding = found[0]
    # 1 s over the 3 s baseline (the 1 s margin) is reached 30 min into the wear
    assert healthy + 30 * MINUTE <= at <= healthy + 30 * MINUTE + 5 * period + 2 * MINUTE
    assert finding.fault_type == "door_slowing"


@pytest.mark.parametrize("cadence", CADENCES)
def test_a_gap_is_not_a_restart_for_slowing(cadence: str) -> None:
    """A slow door before a day's silence is still slow after it: the learnt baseline
    stays (a restart would learn the slow door as normal)."""
    period = CADENCES[cadence]
    detector = LockSlowingDetector(LOCK)

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        slow = t >= 2 * 24 * HOUR
        return {"lock_actuation_ms": float((400.0 if slow else 120.0) + rng.normal(0, 6.0))}

    found = run(detector, row, period, 3 * 24 * HOUR + 12 * HOUR, gap=(2 * 24 * HOUR, 24 * HOUR))
    assert detector.baseline == pytest.approx(120.0, abs=5.0)
    assert len(found) == 1 and found[0][0] >= 3 * 24 * HOUR  # judged after the gap


def test_a_gap_during_the_warm_up_starts_it_again() -> None:
    detector = DoorSlowingDetector(DOOR)
    run(detector, door(None), SECOND, 60 * SECOND)  # half a warm-up
    assert detector.baseline is None
    run(detector, door(None), SECOND, 90 * SECOND, t0=T0 + HOUR)  # after an hour's gap
    assert detector.baseline is None  # 90 s of the 120 s, counted from the gap
    run(detector, door(None), SECOND, 40 * SECOND, t0=T0 + HOUR + 90 * SECOND)
    assert detector.baseline == pytest.approx(3.0, abs=0.05)


def test_slowing_relearns_after_a_repair() -> None:
    detector = DoorSlowingDetector(DOOR)
    run(detector, door(None), SECOND, 10 * MINUTE)
    assert detector.baseline == pytest.approx(3.0, abs=0.05)
    detector.relearn(T0 + 10 * MINUTE)
    assert detector.baseline is None and detector.fault_active() is None

    def new_operator(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        return {"door_close_time_s": float(2.5 + rng.normal(0, 0.05))}

    run(detector, new_operator, SECOND, 10 * MINUTE, t0=T0 + 10 * MINUTE)
    assert detector.baseline == pytest.approx(2.5, abs=0.05)
    assert detector.fault_active() is False


# -- pump anomaly: stable shifts -------------------------------------------------------

PUMP = DeviceRef("s", "b", "pump", "p1")


def pump(step_at_ms: int | None = None, ratio: float = 1.2, rise_g_per_h: float = 0.0) -> Row:
    """A healthy running pump; accelerometer 1 steps by `ratio` or rises from
    `step_at_ms`."""

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        acc1 = 0.212
        if step_at_ms is not None and t >= step_at_ms:
            acc1 = acc1 * ratio + rise_g_per_h * (t - step_at_ms) / HOUR
        return {
            "running": True,
            "accelerometer1_rms_g": float(acc1 + rng.normal(0, 0.0035)),
            "accelerometer2_rms_g": float(0.268 + rng.normal(0, 0.0035)),
            "current_a": float(2.05 + rng.normal(0, 0.05)),
            "voltage_v": float(230.0 + rng.normal(0, 1.2)),
            "pressure_bar": float(0.28 + rng.normal(0, 0.01)),
            "flow_rate_lpm": float(32.0 + rng.normal(0, 0.6)),
        }

    return row


@pytest.mark.parametrize("cadence", CADENCES)
def test_a_step_that_stays_flat_is_adopted_as_the_new_normal(cadence: str) -> None:
    """A re-seated sensor: accelerometer 1 reads 20 % higher from one sample on, with no
    gap. Flat for the probation, it becomes the new normal: no finding, a recorded shift."""
    period = CADENCES[cadence]
    step = 5 * HOUR if cadence == "1s" else 2 * 24 * HOUR
    detector = PumpMultivariateDetector(PUMP)
    found = run(
        detector, pump(step), period, step + (4 * HOUR if cadence == "1s" else 2 * 24 * HOUR)
    )
    assert found == []
    [shift] = detector.shifts
    assert shift["metric"] == "accelerometer1_rms_g"
    assert float(shift["to"]) / float(shift["from"]) == pytest.approx(1.2, abs=0.03)  # type: ignore[arg-type]
    assert detector.fault_active() is False


@pytest.mark.parametrize("cadence", CADENCES)
def test_a_rise_that_keeps_rising_is_a_fault_found_at_both_cadences(cadence: str) -> None:
    """Bearing wear, 0.05 g an hour: never adopted; the finding dates from the probation's
    start. (A slower rise, whose lag behind the learnt level's drift-following stays in
    the clear band, is left to `pump_bearing_wear`.)"""
    period = CADENCES[cadence]
    start = 3 * HOUR if cadence == "1s" else 2 * 24 * HOUR
    detector = PumpMultivariateDetector(PUMP)
    found = run(detector, pump(start, 1.0, 0.05), period, start + 24 * HOUR)
    assert found, f"nothing at {cadence}"
    at, finding = found[0]
    assert start < at <= start + (5 * HOUR if cadence == "1s" else 12 * HOUR)
    assert finding.evidence["metric"] == "accelerometer1_rms_g"
    assert start < finding.onset_ms - T0 < at
    assert detector.shifts == []


def test_a_step_too_large_to_be_a_re_seated_sensor_is_a_fault_at_once() -> None:
    detector = PumpMultivariateDetector(PUMP)
    found = run(detector, pump(2 * HOUR, ratio=1.8), SECOND, 2 * HOUR + 10 * MINUTE)
    assert len(found) == 1 and found[0][0] < 2 * HOUR + MINUTE


def test_a_process_signal_off_its_level_is_not_put_on_probation() -> None:
    """A throttled outlet (the flow 10 % down) alarms within seconds, as on SKAB."""
    detector = PumpMultivariateDetector(PUMP)
    healthy = pump()

    def throttled(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        row = healthy(t, rng)
        if t >= HOUR:
            row["flow_rate_lpm"] = float(28.8 + rng.normal(0, 0.6))
        return row

    found = run(detector, throttled, SECOND, HOUR + 5 * MINUTE)
    assert len(found) == 1 and found[0][0] < HOUR + MINUTE
    assert found[0][1].evidence["metric"] == "flow_rate_lpm"


@pytest.mark.parametrize("cadence", CADENCES)
def test_a_gap_is_not_a_restart_for_the_pump_anomaly(cadence: str) -> None:
    """A day's silence: the learnt operating point stays (no new warm-up), and a flow
    that is off after the gap is judged against it."""
    period = CADENCES[cadence]
    detector = PumpMultivariateDetector(PUMP)
    healthy = pump()

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        out = healthy(t, rng)
        if t >= 2 * 24 * HOUR:
            out["flow_rate_lpm"] = float(25.0 + rng.normal(0, 0.6))
        return out

    found = run(detector, row, period, 3 * 24 * HOUR + 6 * HOUR, gap=(2 * 24 * HOUR, 24 * HOUR))
    assert len(found) == 1 and found[0][0] >= 3 * 24 * HOUR
    assert found[0][1].evidence["baseline"] == pytest.approx(32.0, abs=0.5)


def test_the_pump_anomaly_relearns_after_a_repair() -> None:
    detector = PumpMultivariateDetector(PUMP)
    run(detector, pump(), SECOND, 20 * MINUTE)
    assert detector.fault_active() is False
    detector.relearn(T0 + 20 * MINUTE)
    assert detector.fault_active() is None  # learning again
    # the repaired pump runs 10 % more flow: its new normal, no finding
    healthy = pump()

    def repaired(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        return {**healthy(t, rng), "flow_rate_lpm": float(35.2 + rng.normal(0, 0.6))}

    assert run(detector, repaired, SECOND, HOUR, t0=T0 + 20 * MINUTE) == []
    assert detector.fault_active() is False


# -- offline before the interval is known ----------------------------------------------


def test_a_sparse_device_gets_no_offline_ticket_between_its_first_two_samples() -> None:
    clock = Clock()
    detector = OfflineDetector(DeviceRef("s", "b", "pump", "p1"), clock)
    found: list[Finding] = []
    for k in range(6):  # one sample every 10 minutes, ticked every minute
        detector.update(Sample(detector.device, T0 + k * 10 * MINUTE, k, {"running": True}))
        for m in range(1, 11):
            clock.now_ms = T0 + k * 10 * MINUTE + m * MINUTE
            found += detector.tick(clock.now_ms)
    assert found == []
    assert detector.silence_limit_ms() == 30 * MINUTE  # 3 learnt intervals
    clock.now_ms = T0 + 5 * 10 * MINUTE + 31 * MINUTE
    assert [f.fault_type for f in detector.tick(clock.now_ms)] == ["offline"]


def test_before_the_interval_is_known_the_grace_applies_and_can_be_configured() -> None:
    clock = Clock()
    default = OfflineDetector(DeviceRef("s", "b", "pump", "p1"), clock)
    short = OfflineDetector(
        DeviceRef("s", "b", "pump", "p2"), clock, OfflineConfig(first_grace_s=0)
    )
    for detector in (default, short):
        detector.update(Sample(detector.device, T0, 0, {"running": True}))
    clock.now_ms = T0 + 3 * MINUTE
    assert default.tick(clock.now_ms) == [] and len(short.tick(clock.now_ms)) == 1
    clock.now_ms = T0 + 31 * MINUTE
    assert len(default.tick(clock.now_ms)) == 1


def test_a_device_that_slows_down_for_good_is_learnt_and_an_outage_is_not() -> None:
    """From 1 min to 10 min: three silences of one size are the new rhythm (two findings
    at most); an outage of hours is never learnt as the interval."""
    clock = Clock()
    detector = OfflineDetector(DeviceRef("s", "b", "pump", "p1"), clock)
    times = [k * MINUTE for k in range(30)] + [29 * MINUTE + k * 10 * MINUTE for k in range(1, 20)]
    found: list[Finding] = []
    last = 0
    for seq, t in enumerate(times):
        for quiet in range(last + MINUTE, t, MINUTE):
            clock.now_ms = T0 + quiet
            found += detector.tick(clock.now_ms)
        clock.now_ms = T0 + t
        detector.update(Sample(detector.device, T0 + t, seq, {"running": True}))
        last = t
    assert 1 <= len(found) <= 3
    assert detector.silence_limit_ms() == 30 * MINUTE
    clock.now_ms = T0 + last + 5 * HOUR  # an outage
    assert len(detector.tick(clock.now_ms)) == 1
    detector.update(Sample(detector.device, clock.now_ms, 99, {"running": True}))
    assert detector.silence_limit_ms() == 30 * MINUTE


# -- lamp failure, illuminance, levelling ----------------------------------------------

CIRCUIT = DeviceRef("s", "b", "lighting", "c1")
LIFT = DeviceRef("s", "b", "elevator", "e1")


def lamps(fail_from_ms: int | None, nominal_a: float = 30.8) -> Row:
    """A circuit on all the time; from `fail_from_ms` a third of its lamps are dead
    (30 % of the draw and of the light left)."""

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        share = 0.3 if fail_from_ms is not None and t >= fail_from_ms else 1.0
        return {
            "on": True,
            "current_a": float(nominal_a * share * (1 + rng.normal(0, 0.015))),
            "illuminance_lux": float(160.0 * share * (1 + rng.normal(0, 0.03))),
        }

    return row


@pytest.mark.parametrize("cadence", CADENCES)
@pytest.mark.parametrize(
    ("build", "fault_type"),
    [
        (lambda: LampFailureDetector(CIRCUIT), "lamp_failure"),
        (lambda: IlluminanceLowDetector(CIRCUIT), "illuminance_low"),
    ],
)
def test_dead_lamps_are_found_at_both_cadences(
    cadence: str, build: Callable[[], Detector], fault_type: str
) -> None:
    period = CADENCES[cadence]
    fail = 3 * HOUR if cadence == "1s" else 2 * 24 * HOUR
    found = run(build(), lamps(fail), period, fail + (HOUR if cadence == "1s" else 24 * HOUR))
    assert found, f"nothing at {cadence}"
    at, finding = found[0]
    # a median of 5 readings turns at the 3rd, then held for 5 readings
    assert fail <= at <= fail + max(MINUTE, 8 * period)
    assert finding.fault_type == fault_type


@pytest.mark.parametrize("cadence", CADENCES)
def test_levelling_error_is_found_at_both_cadences(cadence: str) -> None:
    period = CADENCES[cadence]
    fault = 3 * HOUR if cadence == "1s" else 2 * 24 * HOUR

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        offset = 15.0 if t >= fault else 0.0
        return {"speed_ms": 0.0, "levelling_error_mm": float(offset + rng.normal(0, 2.0))}

    found = run(LevellingErrorDetector(LIFT), row, period, fault + 24 * HOUR)
    assert found and fault <= found[0][0] <= fault + max(MINUTE, 8 * period)


def test_lamps_warming_up_after_a_switch_on_are_neither_learnt_nor_judged() -> None:
    """Street lamps run from a seventh of their draw to full over ten minutes."""
    detector = LampFailureDetector(CIRCUIT)

    def row(t: int, rng: np.random.Generator) -> dict[str, MetricValue]:
        night = t % (24 * HOUR)
        on = night >= 10 * HOUR  # on from 10 h to midnight
        since = (night - 10 * HOUR) / 1000
        level = 0.137 + 0.863 * (1 - np.exp(-since / 130.0)) if on else 0.0
        return {"on": on, "current_a": float(30.8 * level * (1 + rng.normal(0, 0.015)))}

    assert run(detector, row, SECOND, 3 * 24 * HOUR) == []
    assert detector.expected_a == pytest.approx(30.8, rel=0.02)


def test_a_gap_is_not_a_restart_for_the_lamps() -> None:
    """Dead lamps before a day's silence are found after it: the learnt draw stays."""
    detector = LampFailureDetector(CIRCUIT)
    found = run(
        detector, lamps(2 * 24 * HOUR), 10 * MINUTE, 4 * 24 * HOUR, gap=(2 * 24 * HOUR, 24 * HOUR)
    )
    assert detector.expected_a == pytest.approx(30.8, rel=0.02)
    # after the gap: settling (15 min), then a window of 5 readings held 5 readings
    assert len(found) == 1 and 3 * 24 * HOUR < found[0][0] <= 3 * 24 * HOUR + 3 * HOUR


def test_the_lamps_relearn_after_a_repair() -> None:
    detector = LampFailureDetector(CIRCUIT)
    assert run(detector, lamps(None), 10 * SECOND, 2 * HOUR) == []
    detector.relearn(T0 + 2 * HOUR)
    assert detector.expected_a is None and detector.fault_active() is None
    # LED retrofit: half the draw is the new normal, no finding
    assert run(detector, lamps(None, 15.4), 10 * SECOND, 2 * HOUR, t0=T0 + 2 * HOUR) == []
    assert detector.expected_a == pytest.approx(15.4, rel=0.02)
    assert detector.fault_active() is False


def test_a_gap_restarts_the_levelling_window_and_timing() -> None:
    """Readings from both sides of a silence never join in one median."""
    detector = LevellingErrorDetector(LIFT)

    def level(mm: float) -> Row:
        return lambda t, rng: {"speed_ms": 0.0, "levelling_error_mm": mm}

    run(detector, level(1.0), 10 * SECOND, HOUR)
    assert detector.recent.full and detector.score(0) == 1.0
    found = run(detector, level(15.0), 10 * SECOND, 20 * SECOND, t0=T0 + 2 * HOUR)
    assert found == [] and list(detector.recent.values) == [15.0, 15.0]
