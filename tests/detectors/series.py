"""Synthetic series and a driver shared by the detector tests.

Every generator is a pure function of its seed, so a failing case replays
exactly. Time is simulated: samples carry timestamps and an injected `Clock`
stands in for the wall clock; nothing here sleeps.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from contract.finding import Finding
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.base import Detector

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
    dev: DeviceRef,
    rows: Iterable[Metrics],
    period_ms: int = PERIOD_MS,
    t0: int = T0,
    gaps: dict[int, int] | None = None,
) -> list[Sample]:
    """One sample per row, `period_ms` apart; `gaps` {index: ms}: silence before that row
    (a device restart or a network outage)."""
    out: list[Sample] = []
    shift = 0
    for i, m in enumerate(rows):
        shift += (gaps or {}).get(i, 0)
        out.append(Sample(dev, t0 + i * period_ms + shift, i, dict(m)))
    return out


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
    period_ms: int = PERIOD_MS
    gaps: tuple[tuple[int, int], ...] = ()  # (index, ms of silence before it)


def rng_for(case_id: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def case_samples(dev: DeviceRef, case: Case) -> list[Sample]:
    rows = case.rows(rng_for(case.id))
    return samples(dev, rows, period_ms=case.period_ms, gaps=dict(case.gaps))


def check_table_case(detector: Detector, case: Case) -> list[tuple[int, Finding]]:
    """Feed the case to a fresh detector: the number of findings, where the first comes,
    and that each carries the detector's identity and severity."""
    every = feed(detector, case_samples(detector.device, case))
    # a trend that keeps rising after it fired reports again (an escalation of the open
    # ticket, tested apart): the table counts the findings that open an episode
    found = [(i, f) for i, f in every if not f.evidence.get("escalation")]
    assert len(found) == case.findings, [(i, f.summary) for i, f in found][:20]
    if case.first_at is not None:
        low, high = case.first_at
        assert low <= found[0][0] <= high, f"first finding at sample {found[0][0]}"
    for _, f in found:
        assert f.fault_type == detector.fault_type
        assert f.detector == detector.name
        assert f.severity is type(detector).severity
        assert f.summary and f.evidence
    return found


# -- full-kind healthy series (every metric of the kind, like the simulator's) -----------


def elevator_rows(
    rng: np.random.Generator, n: int, moving_share: float = 0.5, trips_per_moving: float = 0.4
) -> list[Metrics]:
    """A lift in ordinary service: trips while moving, a few reversals per hundred trips,
    levelling within a few mm, running current ~42 A and vibration ~0.25 m/s2."""
    rows: list[Metrics] = []
    moving = rng.random(n) < moving_share
    noise = rng.normal(0.0, 1.0, (n, 5))
    trips = rng.poisson(trips_per_moving, n)
    floors = rng.integers(0, 20, n)
    for i in range(n):
        trip_n = int(trips[i]) if moving[i] else 0
        rows.append(
            {
                "door_open_time_s": round(2.5 + 0.08 * noise[i, 0], 3),
                "door_close_time_s": round(3.0 + 0.08 * noise[i, 1], 3),
                "door_reversals": int(rng.poisson(0.03 * trip_n)),
                "levelling_error_mm": round(2.0 * noise[i, 2], 2),
                "motor_current_a": round(
                    max(0.0, (42.0 if moving[i] else 6.0) + 1.5 * noise[i, 3]), 2
                ),
                "car_vibration_rms_ms2": round(
                    max(0.0, (0.25 if moving[i] else 0.05) + 0.01 * noise[i, 4]), 4
                ),
                "trips": trip_n,
                "position_floor": float(floors[i]),
                "speed_ms": 1.6 if moving[i] else 0.0,
                "doors_closed": True,
                "fault_code": 0,
            }
        )
    return rows


def lighting_rows(
    rng: np.random.Generator,
    n: int,
    on: bool = True,
    current_a: float = 4.0,
    lamp_lux: float = 160.0,
    daylight_lux: float = 0.0,
) -> list[Metrics]:
    rows: list[Metrics] = []
    noise = rng.normal(0.0, 1.0, (n, 3))
    for i in range(n):
        current = current_a * (1 + 0.015 * noise[i, 0]) if on else 0.0
        voltage = 230.0 + 1.5 * noise[i, 1]
        lux = daylight_lux + (lamp_lux * (1 + 0.03 * noise[i, 2]) if on else 0.0)
        rows.append(
            {
                "current_a": round(max(0.0, current), 4),
                "voltage_v": round(voltage, 2),
                "power_w": round(max(0.0, current) * voltage * 0.95, 2),
                "on": on,
                "illuminance_lux": round(max(0.0, lux), 1),
            }
        )
    return rows


def pump_rows(rng: np.random.Generator, n: int, running: bool = True) -> list[Metrics]:
    """The simulator's circulation pump: SKAB-like levels and noise."""
    on = 1.0 if running else 0.0
    noise = rng.normal(0.0, 1.0, (n, 8))
    return [
        {
            "accelerometer1_rms_g": round(max(0.0, on * 0.212 + 0.004 + 0.0035 * x[0]), 5),
            "accelerometer2_rms_g": round(max(0.0, on * 0.268 + 0.004 + 0.0035 * x[1]), 5),
            "current_a": round(max(0.0, on * 2.05 + (0.05 if running else 0.005) * x[2]), 4),
            "voltage_v": round(230.0 + 1.2 * x[3], 2),
            "pressure_bar": round(max(-0.5, on * 0.28 + 0.01 * x[4]), 4),
            "motor_temperature_c": round((78.0 if running else 35.0) + 0.2 * x[5], 2),
            "fluid_temperature_c": round(26.0 + 0.15 * x[6], 2),
            "flow_rate_lpm": round(max(0.0, on * 32.0 + (0.6 if running else 0.01) * x[7]), 3),
            "running": running,
            "run_hours_h": 1000.0,
        }
        for x in noise
    ]


def access_rows(
    rng: np.random.Generator, n: int, badge_rate: float = 0.02, period_s: float = 2.0
) -> list[Metrics]:
    """A badge door: each opening follows a valid credential and lasts 3..12 s; a refused
    badge now and then; the lock actuates in ~120 ms; the reader answers."""
    rows: list[Metrics] = []
    open_for, close_after = 0.0, 0.0
    for _ in range(n):
        valid = int(rng.poisson(badge_rate * period_s))
        invalid = int(rng.poisson(badge_rate * period_s * 0.01))
        if open_for > 0:
            open_for += period_s
            if open_for >= close_after:
                open_for = 0.0
        if valid and open_for == 0:
            open_for, close_after = 0.001, float(rng.uniform(3, 12))
        rows.append(
            {
                "door_open": open_for > 0,
                "held_open_s": round(open_for, 1),
                "valid_credentials": valid,
                "invalid_credentials": invalid,
                "lock_actuation_ms": round(max(20.0, 120.0 + rng.normal(0, 6.0)), 1),
                "reader_ok": True,
            }
        )
    return rows


def change(
    rows: list[Metrics], start: int, stop: int | None, **values: MetricValue
) -> list[Metrics]:
    """Copies of `rows` with `values` set on rows[start:stop]."""
    out = [dict(r) for r in rows]
    for row in out[start:stop]:
        row.update(values)
    return out


def apply(
    rows: list[Metrics], start: int, stop: int | None, fn: Callable[[int, Metrics], None]
) -> list[Metrics]:
    """Copies of `rows` with fn(index from start, row) applied to rows[start:stop]."""
    out = [dict(r) for r in rows]
    for index, row in enumerate(out[start:stop]):
        fn(index, row)
    return out
