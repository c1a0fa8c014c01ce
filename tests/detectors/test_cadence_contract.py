"""Every detector at the two ends of the cadences devices use: a sample a second and a
sample every ten minutes.

Healthy signals come from the simulators' device models with the nuisance of real
recordings (`simulators/nuisance.py`: noise regimes, daily drift, neighbour coupling, a
20 % level shift on day two (10 min) or hour five (1 s), lamp warm-up and part-night
dimming), with a recording gap and a cadence change in the middle (1 s, then 5 s;
10 min, then 5 min): no detector may find anything in them, except `offline` during a
gap longer than its limit (set per device, as configuration would, from the device's
cadence). Each detector then sees its own fault from the same model at both cadences
and must find it, where the fault can be observed at that cadence; `UNOBSERVABLE` says
why where it cannot. A case that does not hold yet goes in `KNOWN_FAILING`, marked
`xfail(strict=True)` with the reason, so the mark goes as soon as it passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from contract.finding import Finding
from contract.payload import Event, Sample
from contract.topics import DeviceRef
from detectors.base import Detector
from detectors.offline import OfflineConfig, OfflineDetector
from detectors.registry import KIND_DETECTORS
from simulators.models import (
    AccessModel,
    ActiveFault,
    DeviceModel,
    ElevatorModel,
    LightingModel,
    PumpModel,
)
from simulators.nuisance import NuisanceLayer
from simulators.nuisance_params import LightingNuisance, Nuisance
from tests.detectors.series import T0, Clock

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

MODELS: dict[str, type[DeviceModel]] = {
    "elevator": ElevatorModel,
    "lighting": LightingModel,
    "pump": PumpModel,
    "access": AccessModel,
}


@dataclass(frozen=True)
class Cadence:
    """A healthy timeline: `first_ms` apart until `gap_at_ms`, silence for `gap_ms`, then
    `then_ms` apart until `end_ms`; a fault run: healthy for `healthy_ms`, then the fault
    for at most `fault_ms`."""

    name: str
    first_ms: int
    then_ms: int
    gap_at_ms: int
    gap_ms: int
    end_ms: int
    healthy_ms: int
    fault_ms: int


FAST = Cadence("1s", SECOND_MS, 5 * SECOND_MS, 3 * HOUR_MS, 30 * MINUTE_MS, 7 * HOUR_MS,
               2 * HOUR_MS, 4 * HOUR_MS)  # fmt: skip
SLOW = Cadence("10min", 10 * MINUTE_MS, 5 * MINUTE_MS, 2 * DAY_MS, DAY_MS, 5 * DAY_MS,
               2 * DAY_MS, 3 * DAY_MS)  # fmt: skip
CADENCES = (FAST, SLOW)


def classes() -> list[type[Detector]]:
    found = {cls for group in KIND_DETECTORS.values() for cls in group}
    return sorted(found | {OfflineDetector}, key=lambda c: c.__name__)


def kinds_of(cls: type[Detector]) -> list[str]:
    return sorted(cls.kinds) if cls is not OfflineDetector else ["pump"]


# The model fault that shows each detector's fault, with parameters strong enough to be
# found within the run (the defaults of slow wear take days at any cadence).
FAULTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # detector fault type: (kind, model fault, params)
    "door_slowing": ("elevator", "door_slowing", {"rate_s_per_h": 2.0}),
    "door_reversals": ("elevator", "door_reversals", {"extra_per_trip": 1.0}),
    "levelling_error": ("elevator", "levelling_error", {"offset_mm": 25.0}),
    "motor_current_rising": ("elevator", "motor_current_rising", {"rate_a_per_h": 8.0}),
    "car_vibration_rising": ("elevator", "car_vibration_rising", {"rate_ms2_per_h": 0.2}),
    "entrapment": ("elevator", "entrapment", {}),
    "fault_code": ("elevator", "fault_code", {}),
    "lamp_failure": ("lighting", "lamp_failure", {}),
    "flicker": ("lighting", "flicker", {}),
    "lights_left_on": ("lighting", "lights_left_on", {}),
    "illuminance_low": ("lighting", "illuminance_low", {}),
    "bearing_wear": ("pump", "bearing_wear", {"rate_g_per_h": 0.1}),
    "pump_anomaly": ("pump", "bearing_wear", {"rate_g_per_h": 0.1}),
    "cavitation": ("pump", "cavitation", {}),
    "dry_running": ("pump", "dry_running", {}),
    "leakage": ("pump", "leakage", {}),
    "door_held_open": ("access", "door_held_open", {}),
    "door_forced": ("access", "door_forced", {}),
    "credential_brute_force": ("access", "credential_brute_force", {}),
    "lock_slowing": ("access", "lock_slowing", {"rate_ms_per_h": 400.0}),
    "reader_offline": ("access", "reader_offline", {}),
    "stuck_sensor": ("access", "stuck_sensor", {}),
    "out_of_range": ("access", "out_of_range", {}),
}

# Healthy time before a fault where the cadence's default does not reach the moment the
# fault shows: lights are on from 18:00 (the runs start at 08:00), and being left on shows
# at 07:00, once a day's schedule is learnt.
HEALTHY_BEFORE: dict[tuple[str, str], int] = {
    ("lamp_failure", "1s"): 12 * HOUR_MS,
    ("flicker", "1s"): 12 * HOUR_MS,
    ("illuminance_low", "1s"): 12 * HOUR_MS,
    ("lights_left_on", "1s"): 47 * HOUR_MS,
}

# Faults a cadence cannot show, with the reason (the test checks they stay silent there).
UNOBSERVABLE: dict[tuple[str, str], str] = {
    ("lighting_flicker", "10min"): (
        "flicker is variation from one reading to the next within minutes; one reading "
        "every ten minutes cannot tell it from dimming or load changes"
    ),
}

# Cases known not to hold yet, marked `xfail(strict=True)` with the reason: none today.
KNOWN_FAILING: dict[tuple[str, str, str, str], str] = {
    # (test, detector, kind, cadence): why
}


def device(kind: str) -> DeviceRef:
    return DeviceRef("cadence", "b1", kind, f"{kind}-1")


def build(cls: type[Detector], kind: str, clock: Clock, cadence: Cadence) -> Detector:
    dev = device(kind)
    if "wall_clock_ms" in inspect.signature(cls).parameters:
        # the offline limit is configured per device from its cadence: 3 missed reports
        limit = 3 * max(cadence.first_ms, cadence.then_ms)
        return cls(dev, clock, OfflineConfig(offline_after_ms=limit))  # type: ignore[call-arg, arg-type]
    return cls(dev)


def nuisance(kind: str, cadence: Cadence, seed: int) -> NuisanceLayer:
    """What real equipment adds to a healthy signal (every pattern at its defaults, the
    ones measured on the corpus), with a 20 % step: a re-seated sensor with no gap."""
    shift_at = "5h" if cadence is FAST else "2d"
    spec: dict[str, Any] = {
        "noise": {},
        "drift": {},
        "coupling": {"group": "contract"},
        "level_shifts": [{"at": shift_at, "ratio": 1.2}],
    }
    if kind == "lighting":
        parsed: Nuisance = LightingNuisance.model_validate({**spec, "warmup": {}, "dimming": {}})
    else:
        parsed = Nuisance.model_validate(spec)
    return NuisanceLayer(kind, parsed, seed, f"{kind}-1", T0)


def times(cadence: Cadence) -> Iterator[int]:
    t = 0
    while t < cadence.gap_at_ms:
        yield t
        t += cadence.first_ms
    t = cadence.gap_at_ms + cadence.gap_ms
    while t < cadence.end_ms:
        yield t
        t += cadence.then_ms


def run(
    detector: Detector,
    model: DeviceModel,
    clock: Clock,
    offsets: Iterator[int],
    fault: tuple[str, dict[str, Any], int] | None = None,
    stop_at_first: bool = False,
) -> list[tuple[int, Finding]]:
    """Feed model samples at the given times (ms from T0), ticking at each sample and
    every minute of silence between them; returns (ms from T0, finding)."""
    found: list[tuple[int, Finding]] = []
    last: int | None = None
    for seq, offset in enumerate(offsets):
        if last is not None:
            for quiet in range(last + MINUTE_MS, offset, MINUTE_MS):
                clock.now_ms = T0 + quiet
                found += [(quiet, f) for f in detector.tick(T0 + quiet)]
        dt_s = (offset - last) / 1000 if last is not None else 1.0
        last = offset
        active = []
        if fault is not None and offset >= fault[2]:
            active = [ActiveFault(fault[0], (offset - fault[2]) / 1000, fault[1])]
        clock.now_ms = T0 + offset
        metrics = model.sample(T0 + offset, dt_s, active)
        sample = Sample(detector.device, T0 + offset, seq, metrics)
        found += [(offset, f) for f in detector.update(sample)]
        for name in model.take_events():
            event = Event(detector.device, T0 + offset, seq, name)
            found += [(offset, f) for f in detector.on_event(event)]
        found += [(offset, f) for f in detector.tick(T0 + offset)]
        if stop_at_first and found:
            break
    return found


def _params(mark_failing: bool) -> Iterator[Any]:
    for cls in classes():
        for kind in kinds_of(cls):
            for cadence in CADENCES:
                key = ("healthy", cls.name, kind, cadence.name)
                marks = []
                if mark_failing and key in KNOWN_FAILING:
                    marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[key]))
                yield pytest.param(cls, kind, cadence, id=f"{cls.__name__}-{kind}-{cadence.name}",
                                   marks=marks)  # fmt: skip


def _seed(*parts: str) -> int:
    return sum(ord(c) * (i + 1) for i, c in enumerate("".join(parts))) % 2**32


@pytest.mark.parametrize(("cls", "kind", "cadence"), list(_params(True)))
def test_healthy_with_a_gap_and_a_cadence_change_finds_nothing(
    cls: type[Detector], kind: str, cadence: Cadence
) -> None:
    clock = Clock()
    detector = build(cls, kind, clock, cadence)
    seed = _seed(cls.__name__, kind, cadence.name)
    model = MODELS[kind](np.random.default_rng(seed))
    model.nuisance = nuisance(kind, cadence, seed)
    found = run(detector, model, clock, times(cadence))
    if cls is OfflineDetector:
        # one outage: during the gap, and only there
        gap_start, gap_end = cadence.gap_at_ms, cadence.gap_at_ms + cadence.gap_ms
        assert [f.fault_type for _, f in found] == ["offline"]
        assert gap_start < found[0][0] < gap_end
        return
    assert found == [], [(t / HOUR_MS, f.summary) for t, f in found][:5]


def _fault_params() -> Iterator[Any]:
    for cls in classes():
        if cls is OfflineDetector:
            continue  # silence is its fault: the healthy test's gap shows it
        kind = FAULTS[cls.fault_type][0]
        for cadence in CADENCES:
            key = ("fault", cls.name, kind, cadence.name)
            marks = []
            if key in KNOWN_FAILING:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[key]))
            yield pytest.param(cls, cadence, id=f"{cls.__name__}-{cadence.name}", marks=marks)


@pytest.mark.parametrize(("cls", "cadence"), list(_fault_params()))
def test_each_detector_finds_its_fault_at_both_cadences(
    cls: type[Detector], cadence: Cadence
) -> None:
    kind, model_fault, params = FAULTS[cls.fault_type]
    clock = Clock()
    detector = build(cls, kind, clock, cadence)
    model = MODELS[kind](np.random.default_rng(_seed("fault", cls.__name__, cadence.name)))
    healthy_ms = HEALTHY_BEFORE.get((cls.fault_type, cadence.name), cadence.healthy_ms)
    offsets = range(0, healthy_ms + cadence.fault_ms, cadence.first_ms)
    found = run(detector, model, clock, iter(offsets), (model_fault, params, healthy_ms), True)
    reason = UNOBSERVABLE.get((cls.name, cadence.name))
    if reason is not None:
        assert found == [], reason
        return
    assert found, f"{cls.name} found nothing at {cadence.name}"
    at, finding = found[0]
    assert at >= healthy_ms, (at / HOUR_MS, finding.summary)
    assert finding.fault_type == cls.fault_type
