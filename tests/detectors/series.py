"""Synthetic series and a driver shared by the detector tests.

Every generator is a pure function of its seed, so a failing case replays
exactly. Time is simulated: samples carry timestamps and an injected `Clock`
stands in for the wall clock; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from detectors.base import Detector, Finding
from gateway.contract import DeviceRef
from gateway.payload import MetricValue, Sample

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
PERIOD_MS = 2_000  # 0.5 Hz, the demo scenario's rate

Metrics = dict[str, MetricValue]
Step = tuple[int, Sample | None]  # (time, sample or None = only time passes)


def device(kind: str, device_id: str | None = None) -> DeviceRef:
    return DeviceRef("test-site", "b1", kind, device_id or f"{kind}-1")


class Clock:
    """An injected wall clock that follows simulated time."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def samples(
    dev: DeviceRef, rows: Iterable[Metrics], period_ms: int = PERIOD_MS, t0: int = T0
) -> list[Sample]:
    return [Sample(dev, t0 + i * period_ms, i, dict(m)) for i, m in enumerate(rows)]


def steps_of(batch: Sequence[Sample]) -> list[Step]:
    return [(s.ts_ms, s) for s in batch]


def feed(detector: Detector, batch: Iterable[Sample]) -> list[tuple[int, Finding]]:
    """Findings of `update` over a series, with the index of the sample that produced each."""
    return [(i, f) for i, s in enumerate(batch) for f in detector.update(s)]


def drive(
    detector: Detector, steps: Iterable[Step], clock: Clock | None = None
) -> list[tuple[int, Finding]]:
    """Feed samples in time order and tick after each step; returns (time, finding)."""
    out: list[tuple[int, Finding]] = []
    for ts, sample in steps:
        if clock is not None:
            clock.now_ms = ts
        if sample is not None:
            out.extend((ts, f) for f in detector.update(sample))
        out.extend((ts, f) for f in detector.tick(ts))
    return out


# -- per-kind signal builders (values only; the cases decide the shape) -----


def noisy(rng: np.random.Generator, level: float, sigma: float, n: int) -> list[float]:
    return [float(v) for v in level + rng.normal(0.0, sigma, n)]


def close_times(values: Iterable[float]) -> list[Metrics]:
    return [{"door_close_time_s": round(float(v), 3), "door_open_time_s": 2.5} for v in values]


def lamp(values: Iterable[float], on: bool = True) -> list[Metrics]:
    return [
        {"on": on, "current_a": round(max(0.0, float(v)), 4) if on else 0.0, "voltage_v": 230.0}
        for v in values
    ]


def pump(values: Iterable[float], running: bool = True) -> list[Metrics]:
    return [
        {"running": running, "accelerometer1_rms_g": round(max(0.0, float(v)), 5)} for v in values
    ]


def door(held: Iterable[float | None]) -> list[Metrics]:
    """Access samples; `held` None means the door is closed."""
    return [
        {"door_open": False, "held_open_s": 0.0}
        if h is None
        else {"door_open": True, "held_open_s": float(h)}
        for h in held
    ]


def healthy_openings(rng: np.random.Generator, n: int, period_s: float = 2.0) -> list[float | None]:
    """A busy door: openings of 3..12 s, closed in between."""
    out: list[float | None] = []
    while len(out) < n:
        out.extend([None] * int(rng.integers(1, 30)))
        length = float(rng.uniform(3.0, 12.0))
        held = 0.0
        while held < length:
            out.append(round(held, 1))
            held += period_s
    return out[:n]


PUMP_BASE_G = 0.216
PUMP_SIGMA_G = 0.0035
SAMPLES_PER_MIN = 60_000 // PERIOD_MS


def pump_levels(
    rng: np.random.Generator, minutes: float, level: Callable[[np.ndarray], np.ndarray]
) -> list[float]:
    """Running-pump vibration: `level(t_h)` plus sensor noise, one value per sample."""
    n = int(minutes * SAMPLES_PER_MIN)
    t_h = np.arange(n) * PERIOD_MS / 3_600_000
    return [float(v) for v in level(t_h) + rng.normal(0.0, PUMP_SIGMA_G, n)]


@dataclass(frozen=True)
class Case:
    """One row of a detector table."""

    id: str
    rows: Callable[[np.random.Generator], list[Metrics]]
    findings: int
    # Index range (inclusive) of the sample expected to produce the first finding.
    first_at: tuple[int, int] | None = None
