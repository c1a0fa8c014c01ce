"""Physical-ish device models that produce contract-v1 metrics at a simulated time.

Each model owns a seeded random generator, so a fleet is deterministic under a
seed. Faults are passed in per sample as `ActiveFault`s and bend the healthy
signal the way the real fault does (bearing wear raises vibration slowly, a
failing lamp draws less current, ...).

>>> import numpy as np
>>> model = PumpModel(np.random.default_rng(1))
>>> metrics = model.sample(12 * 3600 * 1000, 1.0, [])
>>> sorted(metrics)[:3]
['accelerometer1_rms_g', 'accelerometer2_rms_g', 'current_a']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.payload import MetricValue

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class ActiveFault:
    """A fault in force at the sample time: `elapsed_s` since it began."""

    type: str
    elapsed_s: float
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str, default: float) -> float:
        return float(self.params.get(name, default))


def hour_of_day(t_ms: int, utc_offset_h: float = 0.0) -> float:
    return ((t_ms / HOUR_MS) + utc_offset_h) % 24.0


def _find(faults: list[ActiveFault], fault_type: str) -> ActiveFault | None:
    for fault in faults:
        if fault.type == fault_type:
            return fault
    return None


class DeviceModel:
    kind: str = ""
    fault_types: frozenset[str] = frozenset()

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pending_events: list[str] = []

    def take_events(self) -> list[str]:
        """Discrete events (contract `event` channel) raised by the last sample."""
        events, self.pending_events = self.pending_events, []
        return events

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        raise NotImplementedError

    def _noise(self, scale: float) -> float:
        return float(self.rng.normal(0.0, scale))


def _traffic(hour: float) -> float:
    """Relative building traffic: morning, lunch and evening peaks over a quiet night."""
    peaks = (
        1.0 * math.exp(-((hour - 8.5) ** 2) / 1.0)
        + 0.6 * math.exp(-((hour - 12.5) ** 2) / 0.8)
        + 0.9 * math.exp(-((hour - 18.0) ** 2) / 1.5)
    )
    return 0.08 + peaks


class ElevatorModel(DeviceModel):
    kind = "elevator"
    fault_types = frozenset({"door_slowing"})

    def __init__(self, rng: np.random.Generator, floors: int = 20) -> None:
        super().__init__(rng)
        self.floors = floors
        self.floor = float(rng.integers(0, floors))
        self.door_close_base = 3.0 + float(rng.normal(0, 0.15))
        self.door_open_base = 2.5 + float(rng.normal(0, 0.15))

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        trips_rate_per_s = 0.05 * _traffic(hour_of_day(t_ms))
        trips = int(self.rng.poisson(trips_rate_per_s * dt_s))
        moving = trips > 0 or self.rng.random() < trips_rate_per_s * 8
        if trips:
            self.floor = float(self.rng.integers(0, self.floors))
        close_s = self.door_close_base + self._noise(0.08)
        open_s = self.door_open_base + self._noise(0.08)
        slowing = _find(faults, "door_slowing")
        if slowing:
            rate = slowing.param("rate_s_per_h", 1.0)
            close_s += min(slowing.param("max_s", 12.0), rate * slowing.elapsed_s / 3600)
            open_s += 0.5 * min(slowing.param("max_s", 12.0), rate * slowing.elapsed_s / 3600)
        reversals = int(self.rng.poisson(0.02 * trips + 0.001 * dt_s))
        return {
            "door_open_time_s": round(max(0.5, open_s), 3),
            "door_close_time_s": round(max(0.5, close_s), 3),
            "door_reversals": reversals,
            "levelling_error_mm": round(self._noise(2.0), 2),
            "motor_current_a": round(max(0.0, (42.0 if moving else 6.0) + self._noise(1.5)), 2),
            "car_vibration_rms_ms2": round(
                max(0.0, (0.25 if moving else 0.05) + self._noise(0.01)), 4
            ),
            "trips": trips,
            "position_floor": self.floor,
            "speed_ms": round(1.6 if moving else 0.0, 2),
            "doors_closed": not (trips > 0 and self.rng.random() < 0.3),
            "fault_code": 0,
        }


class LightingModel(DeviceModel):
    """A lighting circuit on a timer: on from `on_hour` to `off_hour` (wrapping midnight)."""

    kind = "lighting"
    fault_types = frozenset({"lamp_failure"})

    def __init__(
        self,
        rng: np.random.Generator,
        nominal_current_a: float = 4.0,
        on_hour: float = 18.0,
        off_hour: float = 7.0,
    ) -> None:
        super().__init__(rng)
        self.nominal_current_a = nominal_current_a * (1 + float(rng.normal(0, 0.05)))
        self.on_hour = on_hour
        self.off_hour = off_hour

    def is_scheduled_on(self, t_ms: int) -> bool:
        hour = hour_of_day(t_ms)
        if self.on_hour > self.off_hour:
            return hour >= self.on_hour or hour < self.off_hour
        return self.on_hour <= hour < self.off_hour

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        on = self.is_scheduled_on(t_ms)
        voltage = 230.0 + self._noise(1.5)
        hour = hour_of_day(t_ms)
        daylight = (
            max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0)) * 400.0 if 6 <= hour <= 18 else 0
        )
        current = 0.0
        lux = daylight * (1 + self._noise(0.02))
        if on:
            current = self.nominal_current_a * (1 + self._noise(0.015))
            lux += 160.0 * (1 + self._noise(0.03))
            failure = _find(faults, "lamp_failure")
            if failure:
                remaining = failure.param("remaining_fraction", 0.25)
                current *= remaining
                lux = daylight + 160.0 * remaining * (1 + self._noise(0.03))
        current = max(0.0, current)
        return {
            "current_a": round(current, 4),
            "voltage_v": round(voltage, 2),
            "power_w": round(current * voltage * 0.95, 2),
            "on": on,
            "illuminance_lux": round(max(0.0, lux), 1),
        }


class PumpModel(DeviceModel):
    """A circulation pump like SKAB's test rig, with a demand-driven duty cycle."""

    kind = "pump"
    fault_types = frozenset({"bearing_wear"})

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.running = True
        self.run_hours = float(rng.uniform(1_000, 20_000))
        self.motor_temp = 70.0
        self.cycle_offset_s = float(rng.uniform(0, 3600))

    def _demand_running(self, t_ms: int) -> bool:
        # Runs 45 min of every hour by day, 20 min by night.
        hour = hour_of_day(t_ms)
        share = 0.75 if 6 <= hour < 23 else 0.33
        phase = ((t_ms / 1000 + self.cycle_offset_s) % 3600) / 3600
        return phase < share

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        running = self._demand_running(t_ms)
        if running != self.running:
            self.pending_events.append("start" if running else "stop")
        self.running = running
        target_temp = 78.0 if self.running else 35.0
        alpha = 1 - math.exp(-dt_s / 900.0)
        self.motor_temp += (target_temp - self.motor_temp) * alpha
        if self.running:
            self.run_hours += dt_s / 3600
        wear_g = 0.0
        wear = _find(faults, "bearing_wear")
        if wear:
            wear_g = wear.param("rate_g_per_h", 0.02) * wear.elapsed_s / 3600
        on = 1.0 if self.running else 0.0
        return {
            "accelerometer1_rms_g": round(
                max(0.0, on * (0.212 + wear_g) + 0.004 + self._noise(0.0035)), 5
            ),
            "accelerometer2_rms_g": round(
                max(0.0, on * (0.268 + 0.7 * wear_g) + 0.004 + self._noise(0.0035)), 5
            ),
            "current_a": round(max(0.0, on * 2.05 + self._noise(0.05 if on else 0.005)), 4),
            "voltage_v": round(230.0 + self._noise(1.2), 2),
            "pressure_bar": round(max(-0.5, on * 0.28 + self._noise(0.01)), 4),
            "motor_temperature_c": round(self.motor_temp + self._noise(0.2), 2),
            "fluid_temperature_c": round(26.0 + self._noise(0.15), 2),
            "flow_rate_lpm": round(max(0.0, on * 32.0 + self._noise(0.6 if on else 0.01)), 3),
            "running": self.running,
            "run_hours_h": round(self.run_hours, 4),
        }


class AccessModel(DeviceModel):
    """A badge-controlled door: people badge in, the door opens briefly and closes."""

    kind = "access"
    fault_types = frozenset({"door_held_open"})

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.open_for_s = 0.0
        self.close_after_s = 0.0

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        rate_per_s = 0.02 * _traffic(hour_of_day(t_ms))
        valid = int(self.rng.poisson(rate_per_s * dt_s))
        invalid = int(self.rng.poisson(rate_per_s * dt_s * 0.01))
        if self.open_for_s > 0:
            self.open_for_s += dt_s
            if self.open_for_s >= self.close_after_s:
                self.open_for_s = 0.0
        if valid and self.open_for_s == 0:
            self.open_for_s = 0.001
            self.close_after_s = float(self.rng.uniform(3, 12))
        held = _find(faults, "door_held_open")
        door_open = self.open_for_s > 0
        held_s = self.open_for_s
        if held:
            door_open = True
            held_s = min(held.elapsed_s, 86_400.0)  # the contract's range: a day
        return {
            "door_open": door_open,
            "held_open_s": round(held_s, 1),
            "valid_credentials": valid,
            "invalid_credentials": invalid,
            "lock_actuation_ms": round(max(20.0, 120.0 + self._noise(6.0)), 1),
            "reader_ok": True,
        }


MODELS: dict[str, type[DeviceModel]] = {
    "elevator": ElevatorModel,
    "lighting": LightingModel,
    "pump": PumpModel,
    "access": AccessModel,
}

# Faults the runner itself enacts, whatever the device kind.
GENERIC_FAULTS = frozenset({"offline"})
