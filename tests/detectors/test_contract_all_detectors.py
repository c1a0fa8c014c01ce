"""The contract every detector keeps, checked the same way for each one.

The classes are discovered from `registry.KIND_DETECTORS` plus the generic
`OfflineDetector`, and cross-checked against every `Detector` subclass defined
in the `detectors` package, so a new detector cannot skip this file: it needs
an entry in `SPECS` (how to build it, a series that makes it fire, its warm-up).
Every detector scores with the one signature `score(now_ms) -> float | None` and
reads its parameters from one frozen, strict `Config` with defaults.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, get_type_hints

import numpy as np
import pytest
from pydantic import ValidationError

import detectors
from contract.finding import Finding, Severity
from contract.payload import MetricValue, Sample
from contract.topics import TELEMETRY_SCHEMAS, DeviceRef, Kind
from detectors.access_brute_force import BruteForceDetector
from detectors.access_forced_open import DoorForcedDetector
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.access_lock_slowing import LockSlowingDetector
from detectors.access_reader_offline import ReaderOfflineDetector
from detectors.base import Detector, DetectorConfig
from detectors.elevator_door import DoorSlowingDetector
from detectors.elevator_entrapment import EntrapmentDetector
from detectors.elevator_fault_code import FaultCodeDetector
from detectors.elevator_levelling import LevellingErrorDetector
from detectors.elevator_motor_current import MotorCurrentTrendDetector
from detectors.elevator_reversals import DoorReversalDetector
from detectors.elevator_vibration import CarVibrationTrendDetector
from detectors.generic_out_of_range import OutOfRangeDetector
from detectors.generic_stuck import StuckSensorDetector
from detectors.lighting_flicker import FlickerDetector
from detectors.lighting_illuminance import IlluminanceLowDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.lighting_left_on import LightsLeftOnDetector
from detectors.offline import OfflineDetector
from detectors.pump_bearing import BearingWearDetector
from detectors.pump_cavitation import CavitationDetector
from detectors.pump_dry_running import DryRunningDetector
from detectors.pump_leakage import LeakageDetector
from detectors.pump_multivariate import PumpMultivariateDetector
from detectors.registry import KIND_DETECTORS
from tests.detectors.series import (
    PERIOD_MS,
    T0,
    Clock,
    Metrics,
    Step,
    access_rows,
    apply,
    change,
    close_times,
    device,
    door,
    drive,
    elevator_rows,
    lamp,
    lighting_rows,
    noisy,
    pump,
    pump_levels,
    pump_rows,
    samples,
    steps_of,
)


def registered() -> list[type[Detector]]:
    found = {cls for classes in KIND_DETECTORS.values() for cls in classes}
    found.add(OfflineDetector)
    return sorted(found, key=lambda c: c.__name__)


def defined_in_package() -> set[type[Detector]]:
    classes: set[type[Detector]] = set()
    for info in pkgutil.iter_modules(detectors.__path__, "detectors."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Detector) and obj is not Detector and obj.__module__ == info.name:
                if not hasattr(obj, "name"):
                    continue  # a shared base (e.g. RunningCarTrendDetector), not a detector
                classes.add(obj)
    return classes


# -- per-class specification ----------------------------------------------------


def _kind_of(cls: type[Detector]) -> str:
    return sorted(cls.kinds)[0]


def _elevator_fault() -> list[Step]:
    rng = np.random.default_rng(1)
    return steps_of(
        samples(device("elevator"), close_times(noisy(rng, 3.0, 0.08, 200) + [5.0] * 100))
    )


def _lamp_fault() -> list[Step]:
    rng = np.random.default_rng(2)
    rows = lamp(4.0 * (1 + rng.normal(0, 0.015, 100))) + lamp([0.8] * 100)
    return steps_of(samples(device("lighting"), rows))


def _pump_fault() -> list[Step]:
    rng = np.random.default_rng(3)
    flat = pump_levels(rng, 30, lambda t: np.full_like(t, 0.216))
    ramp = pump_levels(rng, 90, lambda t: 0.216 + 0.3 * t)
    return steps_of(samples(device("pump"), pump(flat + ramp)))


def _access_fault() -> list[Step]:
    held = [None] * 50 + [float(h) for h in range(0, 200, 2)] + [None] * 50
    return steps_of(samples(device("access"), door(held)))


def _offline_fault() -> list[Step]:
    """Samples for 10 min, then silence (time passes, nothing arrives) for 10 min."""
    heard = samples(device("elevator"), close_times([3.0] * 300))
    quiet = [(T0 + (300 + i) * PERIOD_MS, None) for i in range(300)]
    return steps_of(heard) + quiet


def _steps(kind: str, rows: list[Metrics], period_ms: int = PERIOD_MS) -> list[Step]:
    return steps_of(samples(device(kind), rows, period_ms=period_ms))


def _reversals_fault() -> list[Step]:
    rows = elevator_rows(np.random.default_rng(11), 1000, trips_per_moving=2.0)

    def reversing(_: int, row: Metrics) -> None:
        row["door_reversals"] = row["trips"]

    return _steps("elevator", apply(rows, 700, None, reversing))


def _levelling_fault() -> list[Step]:
    rows = elevator_rows(np.random.default_rng(12), 300)
    return _steps("elevator", change(rows, 150, None, levelling_error_mm=22.0))


def _ramp(metric: str, rate_per_h: float, seed: int) -> list[Step]:
    """2 h healthy, then the running value ramps (10-s samples)."""
    rows = elevator_rows(np.random.default_rng(seed), 720 + 1440)

    def ramping(index: int, row: Metrics) -> None:
        if row["speed_ms"]:
            row[metric] = round(float(row[metric]) + rate_per_h * index * 10 / 3600, 4)

    return _steps("elevator", apply(rows, 720, None, ramping), period_ms=10_000)


def _entrapment_fault() -> list[Step]:
    rows = elevator_rows(np.random.default_rng(13), 100)
    stuck = dict(rows[-1], speed_ms=0.0, trips=0, doors_closed=True, position_floor=3.5)
    return _steps("elevator", rows + [stuck] * 40)


def _fault_code_fault() -> list[Step]:
    rows = elevator_rows(np.random.default_rng(14), 150)
    return _steps("elevator", change(rows, 80, None, fault_code=1003))


def _flicker_fault() -> list[Step]:
    rng = np.random.default_rng(15)
    rows = lighting_rows(rng, 1200)
    dips = rng.uniform(0, 1, 1200)

    def flickering(index: int, row: Metrics) -> None:
        row["current_a"] = round(float(row["current_a"]) * (1 - 0.4 * dips[index]), 4)

    return _steps("lighting", apply(rows, 900, None, flickering))


def _left_on_fault() -> list[Step]:
    """One-minute samples from 08:00: on 18:00-07:00 for 26 h, then stuck on."""
    rng = np.random.default_rng(16)
    rows: list[Metrics] = []
    for i in range(int(27.5 * 60)):
        hour = (8 + i / 60) % 24
        on = i >= 26 * 60 or hour >= 18 or hour < 7
        rows += lighting_rows(rng, 1, on=on)
    return _steps("lighting", rows, period_ms=60_000)


def _illuminance_fault() -> list[Step]:
    rows = lighting_rows(np.random.default_rng(17), 100) + lighting_rows(
        np.random.default_rng(18), 100, lamp_lux=40.0
    )
    return _steps("lighting", rows)


def _cavitation_fault() -> list[Step]:
    rng = np.random.default_rng(19)
    rows = pump_rows(rng, 300)
    wobble = rng.normal(0, 0.05, 300)

    def cavitating(index: int, row: Metrics) -> None:
        row["accelerometer2_rms_g"] = round(float(row["accelerometer2_rms_g"]) * 1.5, 5)
        row["pressure_bar"] = round(float(row["pressure_bar"]) - 0.05 + wobble[index], 4)
        row["flow_rate_lpm"] = round(float(row["flow_rate_lpm"]) * 0.9, 3)

    return _steps("pump", apply(rows, 150, None, cavitating))


def _dry_fault() -> list[Step]:
    rows = pump_rows(np.random.default_rng(20), 220)
    return _steps(
        "pump", change(rows, 150, None, flow_rate_lpm=0.2, current_a=1.12, pressure_bar=0.02)
    )


def _leak_fault() -> list[Step]:
    rows = pump_rows(np.random.default_rng(21), 400)

    def leaking(_: int, row: Metrics) -> None:
        row["flow_rate_lpm"] = round(float(row["flow_rate_lpm"]) * 1.21, 3)
        row["pressure_bar"] = round(float(row["pressure_bar"]) * 0.72, 4)

    return _steps("pump", apply(rows, 200, None, leaking))


def _forced_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(22), 200, badge_rate=0.0)
    forced = [
        dict(rows[0], door_open=True, held_open_s=float(h), valid_credentials=0)
        for h in range(0, 60, 2)
    ]
    return _steps("access", rows + forced + rows[:20])


def _brute_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(23), 250)

    def trying(index: int, row: Metrics) -> None:
        row["invalid_credentials"] = index % 2

    return _steps("access", apply(rows, 100, None, trying))


def _lock_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(24), 250)

    def slow(_: int, row: Metrics) -> None:
        row["lock_actuation_ms"] = round(float(row["lock_actuation_ms"]) + 200.0, 1)

    return _steps("access", apply(rows, 100, None, slow))


def _reader_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(25), 150)
    return _steps("access", change(rows, 80, None, reader_ok=False, valid_credentials=0))


def _stuck_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(26), 1200, badge_rate=0.5)
    return _steps("access", change(rows, 300, None, lock_actuation_ms=121.3))


def _range_fault() -> list[Step]:
    rows = access_rows(np.random.default_rng(27), 150)
    return _steps("access", change(rows, 80, None, lock_actuation_ms=1.0))


def _hostile_start(kind: str, n: int) -> list[Metrics]:
    """A warm-up that looks as faulty as it can: extreme but contract-valid values."""
    rng = np.random.default_rng(4)
    values = rng.uniform(0, 1, n)
    if kind == "elevator":
        return [
            {
                **row,
                "door_reversals": 9,
                "trips": 3,
                "levelling_error_mm": round(300 * v, 2),
                "motor_current_a": round(200 + 500 * v, 2),
                "car_vibration_rms_ms2": round(2 + 20 * v, 4),
                "speed_ms": 1.6 * (i % 2),
                "position_floor": 2.5,
            }
            for i, (row, v) in enumerate(zip(close_times(60 + 60 * values), values, strict=True))
        ]
    if kind == "lighting":
        return [
            {**row, "voltage_v": 230.0, "illuminance_lux": round(5 * v, 1)}
            for row, v in zip(lamp(0.01 + 0.1 * values), values, strict=True)
        ]
    if kind == "pump":
        return [
            {
                **row,
                "accelerometer2_rms_g": round(2.0 + 20 * v, 5),
                "current_a": round(0.1 + 5 * v, 4),
                "pressure_bar": round(-0.5 + 10 * v, 4),
                "flow_rate_lpm": round(100 * v, 3),
            }
            for row, v in zip(pump(2.0 + 20 * values), values, strict=True)
        ]
    return [
        {**row, "valid_credentials": 1, "invalid_credentials": 0, "lock_actuation_ms": 120.0}
        for row in door(86_000 * values)
    ]


@dataclass(frozen=True)
class Spec:
    fault: Callable[[], list[Step]]
    # Samples (on-samples for lighting, one-minute buckets x 30 for pump) during which
    # the detector only learns; 0 = nothing is learnt (an absolute threshold).
    warmup_samples: int
    # What the detector needs: a partial sample that carries all of it is real data for
    # this detector (a heartbeat alone, for the reader), not an odd sample to ignore.
    needs: frozenset[str] = frozenset()


SPECS: dict[type[Detector], Spec] = {
    DoorSlowingDetector: Spec(_elevator_fault, 60 + 15 + 4),
    DoorReversalDetector: Spec(_reversals_fault, 150),  # ~200 trips at 1.3 per sample
    LevellingErrorDetector: Spec(_levelling_fault, 0),
    # 6 warm-up buckets + 6 trend buckets of 10 min at 2 s
    MotorCurrentTrendDetector: Spec(lambda: _ramp("motor_current_a", 10.0, 31), 12 * 300),
    CarVibrationTrendDetector: Spec(lambda: _ramp("car_vibration_rms_ms2", 0.15, 32), 12 * 300),
    EntrapmentDetector: Spec(_entrapment_fault, 0),
    FaultCodeDetector: Spec(_fault_code_fault, 0),
    LampFailureDetector: Spec(_lamp_fault, 30 + 5 + 4),
    # 15 min settling and 5 min learning at 2 s, then the first full window
    FlickerDetector: Spec(_flicker_fault, 450 + 150 + 8),
    # it learns for a day (43,200 2-s samples); the first 10,000 are checked
    LightsLeftOnDetector: Spec(_left_on_fault, 10_000),
    IlluminanceLowDetector: Spec(_illuminance_fault, 0),
    BearingWearDetector: Spec(_pump_fault, (10 + 8) * 30),
    PumpMultivariateDetector: Spec(_pump_fault, 400),
    CavitationDetector: Spec(_cavitation_fault, 15 + 60 + 15),
    DryRunningDetector: Spec(_dry_fault, 15 + 60),
    LeakageDetector: Spec(_leak_fault, 15 + 60 + 30),
    DoorHeldOpenDetector: Spec(_access_fault, 0),
    DoorForcedDetector: Spec(_forced_fault, 0),
    BruteForceDetector: Spec(_brute_fault, 0),
    LockSlowingDetector: Spec(_lock_fault, 60 + 15 + 4),
    ReaderOfflineDetector: Spec(_reader_fault, 0, frozenset({"reader_ok"})),
    StuckSensorDetector: Spec(_stuck_fault, 50),
    OutOfRangeDetector: Spec(_range_fault, 0),
    OfflineDetector: Spec(_offline_fault, 0),
}

CLASSES = registered()


def build(
    cls: type[Detector], clock: Clock | None = None, config: DetectorConfig | None = None
) -> Detector:
    dev = device(_kind_of(cls))
    if "wall_clock_ms" in inspect.signature(cls).parameters:
        return cls(dev, clock or Clock(), config)  # type: ignore[call-arg, arg-type]
    return cls(dev, config)


def run(cls: type[Detector], steps: list[Step]) -> list[tuple[int, Finding]]:
    clock = Clock()
    return drive(build(cls, clock), steps, clock)


# -- discovery --------------------------------------------------------------------


def test_every_detector_class_is_registered_and_specified() -> None:
    assert defined_in_package() == set(CLASSES)
    assert set(SPECS) == set(CLASSES)


def test_registry_kinds_match_the_contract_and_the_detectors() -> None:
    assert set(KIND_DETECTORS) == {k.value for k in Kind}
    for kind, classes in KIND_DETECTORS.items():
        for cls in classes:
            assert kind in cls.kinds


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_class_declares_identity(cls: type[Detector]) -> None:
    assert isinstance(cls.name, str) and cls.name
    assert isinstance(cls.version, str) and cls.version
    assert isinstance(cls.fault_type, str) and cls.fault_type
    assert isinstance(cls.severity, Severity)
    assert cls.kinds and cls.kinds <= {k.value for k in Kind}


def test_detector_names_are_unique() -> None:
    names = [cls.name for cls in CLASSES]
    assert len(names) == len(set(names))


# -- the interface: one score, one config -----------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_score_has_the_one_signature(cls: type[Detector]) -> None:
    assert cls.score is not Detector.score, "every detector scores"
    assert list(inspect.signature(cls.score).parameters) == ["self", "now_ms"]
    assert get_type_hints(cls.score) == {"now_ms": int, "return": float | None}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_score_is_unknown_at_first_and_a_number_when_a_finding_is_made(
    cls: type[Detector],
) -> None:
    clock = Clock()
    detector = build(cls, clock)
    assert detector.score(T0) is None
    scores: list[float | None] = []
    for ts, sample in SPECS[cls].fault():
        clock.now_ms = ts
        found = detector.update(sample) if sample is not None else []
        found += detector.tick(ts)
        if found:
            scores.append(detector.score(ts))
    assert scores, "the fault series must produce a finding"
    for score in scores:
        assert isinstance(score, float) and math.isfinite(score)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_config_is_one_frozen_strict_model_with_defaults_read_back(
    cls: type[Detector],
) -> None:
    assert issubclass(cls.Config, DetectorConfig) and cls.Config is not DetectorConfig
    fields = cls.Config.model_fields
    assert fields and not [name for name, f in fields.items() if f.is_required()]
    defaults = cls.Config()
    assert build(cls).config == defaults
    with pytest.raises(ValidationError):
        setattr(defaults, next(iter(fields)), 1)
    with pytest.raises(ValidationError, match="no_such_parameter"):
        cls.Config.model_validate({"no_such_parameter": 1})
    # what a settings file would hold: the dump loads back to the same config, and the
    # detector keeps the very object it was given
    loaded = cls.Config.model_validate_json(defaults.model_dump_json())
    assert loaded == defaults
    assert build(cls, config=loaded).config is loaded


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_another_detectors_config_is_refused(cls: type[Detector]) -> None:
    other = next(c for c in CLASSES if not issubclass(c.Config, cls.Config))
    with pytest.raises(TypeError, match=cls.Config.__name__):
        build(cls, config=other.Config())


# -- the contract ---------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_findings_carry_the_class_identity(cls: type[Detector]) -> None:
    found = run(cls, SPECS[cls].fault())
    assert found, "the fault series must produce a finding"
    for _, finding in found:
        assert finding.detector == cls.name
        assert finding.detector_version == cls.version
        assert finding.fault_type == cls.fault_type
        assert isinstance(finding.severity, Severity)
        assert finding.device == device(_kind_of(cls))
        assert finding.summary
        assert isinstance(finding.onset_ms, int) and finding.onset_ms >= T0
        assert isinstance(finding.evidence, dict) and finding.evidence


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fault_active_is_unknown_then_false_then_true_with_the_finding(
    cls: type[Detector],
) -> None:
    """fault_active(): None until the detector can tell (warm-up, nothing heard), False
    while healthy, True from the step that emits a finding (repair verification needs
    a sustained False, so it must never claim False while a finding is standing)."""
    clock = Clock()
    detector = build(cls, clock)
    assert detector.fault_active() is None
    states: list[bool | None] = []
    finding_at: list[int] = []
    for index, (ts, sample) in enumerate(SPECS[cls].fault()):
        clock.now_ms = ts
        found = detector.update(sample) if sample is not None else []
        found += detector.tick(ts)
        states.append(detector.fault_active())
        if found:
            finding_at.append(index)
    assert finding_at, "the fault series must produce a finding"
    first = finding_at[0]
    before = states[:first]
    known = [s for s in before if s is not None]
    # unknown only at the start, then a healthy verdict before the fault shows
    assert before[: len(before) - len(known)] == [None] * (len(before) - len(known))
    assert known and known[0] is False
    assert all(states[i] is True for i in finding_at)
    assert None not in states[first:]


LEARNING = [c for c in CLASSES if SPECS[c].warmup_samples]


@pytest.mark.parametrize("cls", LEARNING, ids=lambda c: c.__name__)
def test_fault_active_is_never_true_during_a_faulty_warm_up(cls: type[Detector]) -> None:
    kind = _kind_of(cls)
    detector = build(cls)
    for sample in samples(device(kind), _hostile_start(kind, SPECS[cls].warmup_samples)):
        detector.update(sample)
        assert detector.fault_active() is not True


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_deterministic_for_the_same_input(cls: type[Detector]) -> None:
    steps = SPECS[cls].fault()
    first, second = run(cls, steps), run(cls, steps)
    assert first, "the fault series must produce a finding"
    assert first == second


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_silent_during_warm_up_even_with_a_faulty_start(cls: type[Detector]) -> None:
    spec = SPECS[cls]
    kind = _kind_of(cls)
    if cls is OfflineDetector:
        # nothing heard yet: time passing is not an outage
        steps: list[Step] = [(T0 + i * 60_000, None) for i in range(24 * 60)]
    else:
        steps = steps_of(samples(device(kind), _hostile_start(kind, spec.warmup_samples)))
    assert run(cls, steps) == []


def _one_of(metric_type: type) -> MetricValue:
    if metric_type is bool:
        return True
    return 1 if metric_type is int else 1.0


def _complete(row: Metrics, needs: frozenset[str]) -> bool:
    """The row carries a usable value for everything the detector needs."""
    return bool(needs) and all(
        isinstance(row.get(n), bool)
        or (isinstance(row.get(n), int | float) and math.isfinite(float(row[n])))
        for n in needs
    )


def _odd_rows(kind: str, needs: frozenset[str] = frozenset()) -> list[Metrics]:
    """Samples missing the detector's metric, with unrelated metrics, or of odd types."""
    partials: dict[str, list[Metrics]] = {
        "elevator": [{"door_open_time_s": 2.5}, {"trips": 3}, {"door_close_time_s": True}],
        "lighting": [{"on": True}, {"current_a": 0.0}, {"on": 1, "current_a": 0.0}],
        "pump": [{"running": True}, {"accelerometer2_rms_g": 9.0}, {"running": False}],
        "access": [{"reader_ok": True}, {"held_open_s": 900.0}, {"door_open": True}],
    }
    partial = partials[kind]
    other_kinds: list[Metrics] = [
        {name: _one_of(spec.type) for name, spec in schema.items()}
        for other, schema in TELEMETRY_SCHEMAS.items()
        if other.value != kind
    ]
    rows: list[Metrics] = [{}, {"unrelated": 1.0}, {"x" * 40: -1}, *partial, *other_kinds]
    return [row for row in rows if not _complete(row, needs)]


def _non_finite_rows(kind: str, needs: frozenset[str] = frozenset()) -> list[Metrics]:
    """Every number of the kind NaN, +inf or -inf (booleans true): what a replay or a
    data set can hand a detector even though the gateway would refuse it."""
    schema = TELEMETRY_SCHEMAS[Kind(kind)]
    rows = [
        {name: True if spec.type is bool else bad for name, spec in schema.items()}
        for bad in (math.nan, math.inf, -math.inf)
    ]
    # what is complete for this detector is real data: keep only the non-finite rest
    return [{k: v for k, v in row.items() if k not in needs} for row in rows]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_crash_and_no_finding_on_samples_missing_the_metric(cls: type[Detector]) -> None:
    kind = _kind_of(cls)
    rows = _odd_rows(kind, SPECS[cls].needs) * 200
    clock = Clock()
    detector = build(cls, clock)
    assert drive(detector, steps_of(samples(device(kind), rows)), clock) == []


def _interleave_odd(steps: list[Step], odd: list[Metrics]) -> list[Step]:
    """After every real sample, an odd one with the same timestamp."""
    out: list[Step] = []
    for i, (ts, sample) in enumerate(steps):
        out.append((ts, sample))
        if sample is not None:
            extra = Sample(sample.device, ts, sample.seq, dict(odd[i % len(odd)]))
            out.append((ts, extra))
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_odd_samples_do_not_change_the_findings(cls: type[Detector]) -> None:
    steps = SPECS[cls].fault()
    clean = run(cls, steps)
    mixed = run(cls, _interleave_odd(steps, _odd_rows(_kind_of(cls), SPECS[cls].needs)))
    assert [f for _, f in mixed] == [f for _, f in clean]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_nan_and_infinite_readings_are_ignored(cls: type[Detector]) -> None:
    """Non-finite readings neither crash a detector nor enter what it learns or judges:
    interleaved with the fault series, they change no finding; alone, they give none."""
    kind = _kind_of(cls)
    bad = _non_finite_rows(kind, SPECS[cls].needs)
    assert run(cls, _steps(kind, bad * 300)) == []
    steps = SPECS[cls].fault()
    clean = run(cls, steps)
    assert [f for _, f in run(cls, _interleave_odd(steps, bad))] == [f for _, f in clean]


# -- bounded state -------------------------------------------------------------

BOUND = 2_000  # no container in a detector may hold more than this
# 15 times BOUND: a container that grows with the samples shows it (about 24 classes run
# this twice, so the counts are kept to what the check needs)
N_SAMPLES = 30_000
N_FROZEN = 6_000  # a frozen clock needs fewer samples to show growth past BOUND
_LEAVES = (str, bytes, int, float, bool, complex, type(None), Enum, DeviceRef, np.generic)


def sized_containers(obj: Any, path: str = "detector") -> Iterator[tuple[str, int]]:
    """(path, size) of every sized container reachable from a detector's attributes."""
    seen: set[int] = set()

    def walk(value: Any, where: str) -> Iterator[tuple[str, int]]:
        if isinstance(value, _LEAVES) or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            yield where, value.size
            return
        if isinstance(value, dict):
            yield where, len(value)
            for key, item in value.items():
                yield from walk(item, f"{where}[{key!r}]")
            return
        if isinstance(value, list | tuple | set | frozenset) or hasattr(value, "maxlen"):
            yield where, len(value)
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")
            return
        if callable(value) and not hasattr(value, "__dict__"):
            return  # functions, bound methods: not state
        names = list(getattr(value, "__dict__", {}))
        for klass in type(value).__mro__:
            names += [s for s in getattr(klass, "__slots__", ()) if hasattr(value, s)]
        for name in names:
            yield from walk(getattr(value, name), f"{where}.{name}")

    yield from walk(obj, path)


def _long_rows(kind: str, n: int) -> list[Metrics]:
    """Every metric of the kind, drifting (so that windows, buckets and counters fill)."""
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1, n)
    drift = np.linspace(0, 1, n)
    if kind == "elevator":
        base = elevator_rows(rng, 5000, trips_per_moving=1.0)
        return [
            {
                **base[i % 5000],
                "door_close_time_s": float(3.0 + 0.08 * x + 3 * d),
                "motor_current_a": round(float(base[i % 5000]["motor_current_a"]) + 20 * d, 2),
                "door_reversals": int(i % 7 == 0),
                "fault_code": 1003 * int((i // 3000) % 2),
            }
            for i, (x, d) in enumerate(zip(noise, drift, strict=True))
        ]
    if kind == "lighting":
        on = (np.arange(n) // 5000) % 2 == 0
        base = lighting_rows(rng, 5000)
        return [
            {
                **base[i % 5000],
                "on": bool(o),
                "current_a": float(4.0 + 0.06 * x) if o else 0.0,
                "illuminance_lux": float(160 - 150 * d) if o else 0.0,
            }
            for i, (o, x, d) in enumerate(zip(on, noise, drift, strict=True))
        ]
    if kind == "pump":
        running = (np.arange(n) // 3000) % 4 != 3
        base = pump_rows(rng, 5000)
        return [
            {
                **base[i % 5000],
                "running": bool(r),
                "accelerometer1_rms_g": float(0.216 + 0.0035 * x + 0.3 * d),
                "flow_rate_lpm": round(float(base[i % 5000]["flow_rate_lpm"]) * (1 + d), 3),
            }
            for i, (r, x, d) in enumerate(zip(running, noise, drift, strict=True))
        ]
    held = door([None if (i // 200) % 2 else float(i % 200) * 2 for i in range(n)])
    base = access_rows(rng, 5000, badge_rate=0.2)
    return [
        {
            **base[i % 5000],
            **held[i],
            "invalid_credentials": int(i % 11 == 0),
            "lock_actuation_ms": round(120.0 + 6 * x + 500 * d, 1),
        }
        for i, (x, d) in enumerate(zip(noise, drift, strict=True))
    ]


@cache
def _long_samples(kind: str, n: int, period_ms: int) -> tuple[Sample, ...]:
    """Built once per kind and clock: many classes share them (detectors never change a
    sample)."""
    return tuple(samples(device(kind), _long_rows(kind, n), period_ms=period_ms))


@pytest.mark.parametrize(
    ("cls", "period_ms"),
    [
        # frozen clock: samples that share one timestamp (a stuck device clock, a fast
        # sender) must not grow a per-bucket list without bound (pump_bearing did)
        pytest.param(c, period, id=f"{c.__name__}-{label}")
        for c in CLASSES
        for period, label in ((100, "10Hz"), (0, "frozen-clock"))
    ],
)
def test_state_is_bounded(cls: type[Detector], period_ms: int) -> None:
    kind = _kind_of(cls)
    n = N_SAMPLES if period_ms else N_FROZEN
    batch = _long_samples(kind, n, period_ms)
    clock = Clock()
    detector = build(cls, clock)
    largest: dict[str, int] = {}
    for i, sample in enumerate(batch):
        clock.now_ms = T0 + i * 100
        detector.update(sample)
        if i % 1000 == 0:
            detector.tick(clock.now_ms)
        if i % 3_000 == 2_999:
            for where, size in sized_containers(detector):
                largest[where] = max(largest.get(where, 0), size)
    too_big = {where: size for where, size in largest.items() if size > BOUND}
    assert not too_big, too_big


def test_state_walker_sees_nested_windows() -> None:
    """The bound check is only as good as the walk: it must reach the rolling windows."""
    found = dict(sized_containers(BearingWearDetector(device("pump"))))
    assert {"detector.learning", "detector.history", "detector._bucket"} <= found.keys()
    found = dict(sized_containers(DoorSlowingDetector(device("elevator"))))
    assert {"detector.warmup.values", "detector.recent.values"} <= found.keys()
