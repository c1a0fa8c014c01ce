"""The contract every detector keeps, checked the same way for each one.

The classes are discovered from `registry.KIND_DETECTORS` plus the generic
`OfflineDetector`, and cross-checked against every `Detector` subclass defined
in the `detectors` package, so a new detector cannot skip this file: it needs
an entry in `SPECS` (how to build it, a series that makes it fire, its warm-up).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pytest

import detectors
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.base import Detector, Finding, Severity
from detectors.elevator_door import DoorSlowingDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.offline import OfflineDetector
from detectors.pump_bearing import BearingWearDetector
from detectors.pump_multivariate import PumpMultivariateDetector
from detectors.registry import KIND_DETECTORS
from gateway.contract import TELEMETRY_SCHEMAS, DeviceRef, Kind
from gateway.payload import MetricValue, Sample
from tests.detectors.series import (
    PERIOD_MS,
    T0,
    Clock,
    Metrics,
    Step,
    close_times,
    device,
    door,
    drive,
    lamp,
    noisy,
    pump,
    pump_levels,
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


def _hostile_start(kind: str, n: int) -> list[Metrics]:
    """A warm-up that looks as faulty as it can: extreme but contract-valid values."""
    rng = np.random.default_rng(4)
    values = rng.uniform(0, 1, n)
    if kind == "elevator":
        return close_times(60 + 60 * values)
    if kind == "lighting":
        return lamp(0.01 + 0.1 * values)
    if kind == "pump":
        return pump(2.0 + 20 * values)
    return door(86_000 * values)


@dataclass(frozen=True)
class Spec:
    fault: Callable[[], list[Step]]
    # Samples (on-samples for lighting, one-minute buckets x 30 for pump) during which
    # the detector only learns; 0 = nothing is learnt (an absolute threshold).
    warmup_samples: int


SPECS: dict[type[Detector], Spec] = {
    DoorSlowingDetector: Spec(_elevator_fault, 60 + 15 + 4),
    LampFailureDetector: Spec(_lamp_fault, 30 + 5 + 4),
    BearingWearDetector: Spec(_pump_fault, (10 + 8) * 30),
    PumpMultivariateDetector: Spec(_pump_fault, 400),
    DoorHeldOpenDetector: Spec(_access_fault, 0),
    OfflineDetector: Spec(_offline_fault, 0),
}

CLASSES = registered()


def build(cls: type[Detector], clock: Clock | None = None) -> Detector:
    dev = device(_kind_of(cls))
    if "wall_clock_ms" in inspect.signature(cls).parameters:
        return cls(dev, clock or Clock())  # type: ignore[call-arg]
    return cls(dev)


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


def _odd_rows(kind: str) -> list[Metrics]:
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
    return [{}, {"unrelated": 1.0}, {"x" * 40: -1}, *partial, *other_kinds]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_crash_and_no_finding_on_samples_missing_the_metric(cls: type[Detector]) -> None:
    kind = _kind_of(cls)
    rows = _odd_rows(kind) * 200
    clock = Clock()
    detector = build(cls, clock)
    assert drive(detector, steps_of(samples(device(kind), rows)), clock) == []


def _interleave_odd(steps: list[Step], kind: str) -> list[Step]:
    """After every real sample, an odd one with the same timestamp."""
    odd = _odd_rows(kind)
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
    mixed = run(cls, _interleave_odd(steps, _kind_of(cls)))
    assert [f for _, f in mixed] == [f for _, f in clean]


# -- bounded state -------------------------------------------------------------

BOUND = 2_000  # no container in a detector may hold more than this
N_SAMPLES = 100_000
N_FROZEN = 20_000  # a frozen clock needs fewer samples to show growth past BOUND
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
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1, n)
    if kind == "elevator":
        return close_times(3.0 + 0.08 * noise + np.linspace(0, 3, n))
    if kind == "lighting":
        on = (np.arange(n) // 5000) % 2 == 0
        return [
            {"on": bool(o), "current_a": float(4.0 + 0.06 * x) if o else 0.0}
            for o, x in zip(on, noise, strict=True)
        ]
    if kind == "pump":
        return pump(0.216 + 0.0035 * noise + np.linspace(0, 0.3, n))
    return door([None if (i // 200) % 2 else float(i % 200) * 2 for i in range(n)])


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
    batch = samples(device(kind), _long_rows(kind, n), period_ms=period_ms)
    clock = Clock()
    detector = build(cls, clock)
    largest: dict[str, int] = {}
    for i, sample in enumerate(batch):
        clock.now_ms = T0 + i * 100
        detector.update(sample)
        if i % 1000 == 0:
            detector.tick(clock.now_ms)
        if i % 10_000 == 9_999:
            for where, size in sized_containers(detector):
                largest[where] = max(largest.get(where, 0), size)
    too_big = {where: size for where, size in largest.items() if size > BOUND}
    assert not too_big, too_big


def test_state_walker_sees_nested_windows() -> None:
    """The bound check is only as good as the walk: it must reach the rolling windows."""
    found = dict(sized_containers(BearingWearDetector(device("pump"))))
    assert {"detector.warmup.values", "detector.history", "detector._bucket"} <= found.keys()
    found = dict(sized_containers(DoorSlowingDetector(device("elevator"))))
    assert {"detector.warmup.values", "detector.recent.values"} <= found.keys()
