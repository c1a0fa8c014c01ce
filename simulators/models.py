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

from contract.payload import MetricValue
from simulators.nuisance import NuisanceLayer

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


# Sensor faults every model can have (the detectors that catch them watch every kind).
SENSOR_FAULTS = frozenset({"stuck_sensor", "out_of_range"})


class DeviceModel:
    kind: str = ""
    fault_types: frozenset[str] = frozenset()
    # The reading a `stuck_sensor` fault freezes and an `out_of_range` fault shifts, and
    # the default shift (`offset` param) with its physical story (see each model).
    sensor_metric: str = ""
    range_offset: float = 0.0

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pending_events: list[str] = []
        self._stuck_value: MetricValue | None = None
        self._announced: set[str] = set()
        # What real equipment adds to the healthy signal (simulators/nuisance.py); the
        # fleet sets it for a device whose scenario entry has a `nuisance` block.
        self.nuisance: NuisanceLayer | None = None

    def take_events(self) -> list[str]:
        """Discrete events (contract `event` channel) raised by the last sample."""
        events, self.pending_events = self.pending_events, []
        return events

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        raise NotImplementedError

    def _noise(self, scale: float) -> float:
        return float(self.rng.normal(0.0, scale))

    def _announce(self, fault: ActiveFault | None, event: str, when: bool = True) -> bool:
        """Raise `event` once per fault episode (the device's own alarm), when `when` holds
        and the fault asks for it (`report_event`, default 1); True on the first sample of
        the episode on which `when` held. The episode ends with the fault."""
        if fault is None:
            self._announced.discard(event)
            return False
        if event in self._announced or not when:
            return False
        self._announced.add(event)
        if fault.param("report_event", 1.0) >= 0.5:
            self.pending_events.append(event)
        return True

    def _finish(
        self, t_ms: int, metrics: dict[str, MetricValue], faults: list[ActiveFault]
    ) -> dict[str, MetricValue]:
        """The readings as the sensors report them: the nuisance first (it is part of the
        healthy signal), then the sensor faults, which freeze or shift what they see."""
        if self.nuisance is not None:
            metrics = self._derive(self.nuisance.bend(t_ms, metrics))
        return self._sensor_faults(metrics, faults)

    def _derive(self, metrics: dict[str, MetricValue]) -> dict[str, MetricValue]:
        """Readings computed from others, recomputed after the nuisance bent those."""
        return metrics

    def _sensor_faults(
        self, metrics: dict[str, MetricValue], faults: list[ActiveFault]
    ) -> dict[str, MetricValue]:
        """`stuck_sensor`: the reading repeats the value it had when the fault began (a
        frozen transmitter or a gateway re-sending its cache). `out_of_range`: the reading
        is shifted by `offset` (the kind's default) and keeps its noise."""
        metric = self.sensor_metric
        value = metrics.get(metric)
        if not isinstance(value, float) or isinstance(value, bool):
            return metrics
        shifted = _find(faults, "out_of_range")
        if shifted:
            value = round(max(0.0, value + shifted.param("offset", self.range_offset)), 4)
            metrics[metric] = value
        if _find(faults, "stuck_sensor"):
            if self._stuck_value is None:
                self._stuck_value = value
            metrics[metric] = self._stuck_value
        else:
            self._stuck_value = None
        return metrics


def _traffic(hour: float) -> float:
    """Relative building traffic: morning, lunch and evening peaks over a quiet night."""
    peaks = (
        1.0 * math.exp(-((hour - 8.5) ** 2) / 1.0)
        + 0.6 * math.exp(-((hour - 12.5) ** 2) / 0.8)
        + 0.9 * math.exp(-((hour - 18.0) ** 2) / 1.5)
    )
    return 0.08 + peaks


class ElevatorModel(DeviceModel):
    """A traction lift serving `floors` landings, busy with the building's traffic.

    Faults (params, defaults):
    - door_slowing: worn door operator (rate_s_per_h 1.0, max_s 12).
    - door_reversals: a dirty or misaligned light curtain reverses the closing doors
      (extra_per_trip 0.5 reversals per trip).
    - levelling_error: brake wear or rope stretch, the car stops off the landing
      (offset_mm 15, growing rate_mm_per_h 0 up to max_mm 40; negative: stops low).
    - motor_current_rising: a dragging brake or misaligned guides, the running current
      creeps up (rate_a_per_h 4.0, max_a 30).
    - car_vibration_rising: worn roller guides, the ride gets rough (rate_ms2_per_h 0.05,
      max_ms2 1.0).
    - entrapment: the car stops between floors with its doors closed (offset_floor 0.45;
      report_event 1 raises an `entrapment` event; fault_code 0 or the code it shows).
    - fault_code: the controller sets a code (code 1003) and, with out_of_service 1,
      parks at its landing with the doors closed; report_event 1 raises a `fault_code`
      event.
    - stuck_sensor / out_of_range: on car_vibration_rms_ms2 (offset 9.81 m/s2: gravity
      in the RMS once the accelerometer's high-pass filter fails).
    """

    kind = "elevator"
    fault_types = (
        frozenset(
            {
                "door_slowing",
                "door_reversals",
                "levelling_error",
                "motor_current_rising",
                "car_vibration_rising",
                "entrapment",
                "fault_code",
            }
        )
        | SENSOR_FAULTS
    )
    sensor_metric = "car_vibration_rms_ms2"
    range_offset = 9.81

    def __init__(self, rng: np.random.Generator, floors: int = 20) -> None:
        super().__init__(rng)
        self.floors = floors
        self.floor = float(rng.integers(0, floors))
        self.door_close_base = 3.0 + float(rng.normal(0, 0.15))
        self.door_open_base = 2.5 + float(rng.normal(0, 0.15))

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        traffic = _traffic(hour_of_day(t_ms))
        trips_rate_per_s = 0.05 * traffic
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
        # Reversals happen while doors close after a trip; crowded cars reverse more.
        per_trip = 0.02 + 0.025 * min(traffic, 1.0)
        reversing = _find(faults, "door_reversals")
        if reversing:
            per_trip += reversing.param("extra_per_trip", 0.5)
        reversals = int(self.rng.poisson(per_trip * trips))
        levelling = self._noise(2.0)
        mislevel = _find(faults, "levelling_error")
        if mislevel:
            offset = mislevel.param("offset_mm", 15.0)
            grown = mislevel.param("rate_mm_per_h", 0.0) * mislevel.elapsed_s / 3600
            limit = mislevel.param("max_mm", 40.0)
            levelling += math.copysign(min(abs(offset) + grown, max(limit, abs(offset))), offset)
        running_a = 42.0
        drag = _find(faults, "motor_current_rising")
        if drag:
            running_a += min(
                drag.param("max_a", 30.0), drag.param("rate_a_per_h", 4.0) * drag.elapsed_s / 3600
            )
        running_vib = 0.25
        rough = _find(faults, "car_vibration_rising")
        if rough:
            running_vib += min(
                rough.param("max_ms2", 1.0),
                rough.param("rate_ms2_per_h", 0.05) * rough.elapsed_s / 3600,
            )
        motor_noise, vibration_noise = self._noise(1.5), self._noise(0.01)
        doors_closed = not (trips > 0 and self.rng.random() < 0.3)
        position = self.floor
        code = 0
        trapped = _find(faults, "entrapment")
        coded = _find(faults, "fault_code")
        if trapped:
            # Stopped between two landings: nothing moves, the doors stay shut.
            trips, reversals, moving, doors_closed = 0, 0, False, True
            position = min(self.floor + trapped.param("offset_floor", 0.45), self.floors - 0.55)
            code = int(trapped.param("fault_code", 0))
        elif coded and coded.param("out_of_service", 1.0) >= 0.5:
            trips, reversals, moving, doors_closed = 0, 0, False, True
        if coded:
            code = int(coded.param("code", 1003))
        self._announce(trapped, "entrapment")
        self._announce(coded, "fault_code")
        metrics: dict[str, MetricValue] = {
            "door_open_time_s": round(max(0.5, open_s), 3),
            "door_close_time_s": round(max(0.5, close_s), 3),
            "door_reversals": reversals,
            "levelling_error_mm": round(max(-500.0, min(500.0, levelling)), 2),
            "motor_current_a": round(max(0.0, (running_a if moving else 6.0) + motor_noise), 2),
            "car_vibration_rms_ms2": round(
                max(0.0, (running_vib if moving else 0.05) + vibration_noise), 4
            ),
            "trips": trips,
            "position_floor": round(position, 3),
            "speed_ms": round(1.6 if moving else 0.0, 2),
            "doors_closed": doors_closed,
            "fault_code": code,
        }
        return self._finish(t_ms, metrics, faults)


class LightingModel(DeviceModel):
    """A lighting circuit on a timer: on from `on_hour` to `off_hour` (wrapping midnight).
    Its illuminance sensor sees the lamps and up to `daylight_lux` of daylight at noon
    (0 for an underground garage, thousands under a skylight).

    Faults (params, defaults):
    - lamp_failure: dead lamps or driver (remaining_fraction 0.25 of current and light).
    - flicker: a failing driver or loose connection, the current and light jump from
      sample to sample (depth 0.4: each sample loses up to 40 %).
    - lights_left_on: a welded contactor or failed time switch keeps the circuit on.
    - illuminance_low: ageing lamps or soiled diffusers give less light for the same
      current (light_fraction 0.35).
    - stuck_sensor / out_of_range: on voltage_v (offset 35 V: a lost neutral).
    """

    kind = "lighting"
    fault_types = (
        frozenset({"lamp_failure", "flicker", "lights_left_on", "illuminance_low"}) | SENSOR_FAULTS
    )
    sensor_metric = "voltage_v"
    range_offset = 35.0

    def __init__(
        self,
        rng: np.random.Generator,
        nominal_current_a: float = 4.0,
        on_hour: float = 18.0,
        off_hour: float = 7.0,
        daylight_lux: float = 400.0,
    ) -> None:
        super().__init__(rng)
        if daylight_lux < 0:
            raise ValueError("daylight_lux must not be negative")
        self.nominal_current_a = nominal_current_a * (1 + float(rng.normal(0, 0.05)))
        self.on_hour = on_hour
        self.off_hour = off_hour
        self.daylight_lux = daylight_lux

    def is_scheduled_on(self, t_ms: int) -> bool:
        hour = hour_of_day(t_ms)
        if self.on_hour > self.off_hour:
            return hour >= self.on_hour or hour < self.off_hour
        return self.on_hour <= hour < self.off_hour

    def since_switch_on_s(self, t_ms: int) -> float | None:
        """Seconds since the timer last switched the circuit on; None when the timer has
        it off, or never switches it (on all day)."""
        if (self.off_hour - self.on_hour) % 24.0 == 0 or not self.is_scheduled_on(t_ms):
            return None
        return (hour_of_day(t_ms) - self.on_hour) % 24.0 * 3600.0

    def output_level(self, t_ms: int) -> float:
        """Share of full lamp output: below 1 while warming up or dimmed (nuisance)."""
        if self.nuisance is None:
            return 1.0
        return self.nuisance.output_level(self.since_switch_on_s(t_ms), self.on_hour)

    def _derive(self, metrics: dict[str, MetricValue]) -> dict[str, MetricValue]:
        current, voltage = metrics["current_a"], metrics["voltage_v"]
        if isinstance(current, float) and isinstance(voltage, float):
            metrics["power_w"] = round(current * voltage * 0.95, 2)
        return metrics

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        on = self.is_scheduled_on(t_ms) or _find(faults, "lights_left_on") is not None
        voltage = 230.0 + self._noise(1.5)
        hour = hour_of_day(t_ms)
        daylight = (
            max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0)) * self.daylight_lux
            if 6 <= hour <= 18
            else 0
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
            flicker = _find(faults, "flicker")
            if flicker:
                # Sampled at random phases of the flicker: a sample sees the lamps anywhere
                # between full output and `depth` below it.
                dip = 1 - flicker.param("depth", 0.4) * float(self.rng.random())
                current *= dip
                lux = daylight + (lux - daylight) * dip
            dim = _find(faults, "illuminance_low")
            if dim:
                lux = daylight + (lux - daylight) * dim.param("light_fraction", 0.35)
            level = self.output_level(t_ms)  # warm-up and dimming scale what the lamps do
            if level != 1.0:
                current *= level
                lux = daylight + (lux - daylight) * level
        current = max(0.0, current)
        metrics: dict[str, MetricValue] = {
            "current_a": round(current, 4),
            "voltage_v": round(voltage, 2),
            "power_w": round(current * voltage * 0.95, 2),
            "on": on,
            "illuminance_lux": round(max(0.0, lux), 1),
        }
        return self._finish(t_ms, metrics, faults)


class PumpModel(DeviceModel):
    """A circulation pump like SKAB's test rig, with a demand-driven duty cycle.

    Accelerometer 1 sits on the motor's drive-end bearing, accelerometer 2 on the pump
    casing by the inlet. The hydraulics follow a pump curve (shut-off head 1.6 x the
    operating pressure) against a system curve dp = k Q^2.

    Faults (params, defaults):
    - bearing_wear: vibration rises (rate_g_per_h 0.02), on accelerometer 1 mostly.
    - cavitation: a starved inlet, vapour bubbles collapse on the impeller: the casing
      vibration rises, the pressure drops and turns erratic, the flow falls a little
      (intensity 0.6, 0..1).
    - dry_running: no liquid reaches the impeller: no flow, no pressure, an unloaded
      motor (about 55 % of its current); report_event 1 raises a `dry_run` event when it
      first runs dry.
    - leakage: a leak downstream opens a parallel path (fraction 0.3): the system's k
      falls, the pump delivers more flow at less pressure and draws a little more current.
    - stuck_sensor / out_of_range: on voltage_v (offset 35 V: a lost neutral).
    """

    kind = "pump"
    fault_types = (
        frozenset({"bearing_wear", "cavitation", "dry_running", "leakage"}) | SENSOR_FAULTS
    )
    sensor_metric = "voltage_v"
    range_offset = 35.0

    def __init__(
        self, rng: np.random.Generator, day_share: float = 0.75, night_share: float = 0.33
    ) -> None:
        super().__init__(rng)
        self.running = True
        self.run_hours = float(rng.uniform(1_000, 20_000))
        self.motor_temp = 70.0
        self.cycle_offset_s = float(rng.uniform(0, 3600))
        self.day_share = day_share
        self.night_share = night_share

    def _demand_running(self, t_ms: int) -> bool:
        # Runs 45 min of every hour by day, 20 min by night, unless told otherwise.
        hour = hour_of_day(t_ms)
        share = self.day_share if 6 <= hour < 23 else self.night_share
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
        acc1 = on * (0.212 + wear_g) + 0.004 + self._noise(0.0035)
        acc2 = on * (0.268 + 0.7 * wear_g) + 0.004 + self._noise(0.0035)
        current = on * 2.05 + self._noise(0.05 if on else 0.005)
        voltage = 230.0 + self._noise(1.2)
        pressure = on * 0.28 + self._noise(0.01)
        motor_temp = self.motor_temp + self._noise(0.2)
        fluid_temp = 26.0 + self._noise(0.15)
        flow = on * 32.0 + self._noise(0.6 if on else 0.01)
        if self.running:
            leak = _find(faults, "leakage")
            if leak:
                # The operating point moves where pump and system curves meet again.
                r = (1 - min(max(leak.param("fraction", 0.3), 0.0), 0.9)) ** 2
                flow_ratio = math.sqrt(1.6 / (0.6 + r))
                flow += 32.0 * (flow_ratio - 1)
                pressure += 0.28 * (1.6 * r / (0.6 + r) - 1)
                current += 2.05 * 0.3 * (flow_ratio - 1)
            cavitation = _find(faults, "cavitation")
            if cavitation:
                i = min(max(cavitation.param("intensity", 0.6), 0.0), 1.0)
                acc1 += 0.212 * 0.02 * i
                acc2 += 0.268 * 0.8 * i + abs(self._noise(0.02 * i))
                pressure += -0.28 * 0.3 * i + self._noise(0.05 * i)
                flow += -32.0 * 0.2 * i + self._noise(2.0 * i)
                current -= 2.05 * 0.05 * i
            dry = _find(faults, "dry_running")
            if dry:
                flow = abs(self._noise(0.3))
                pressure = 0.02 + self._noise(0.005)
                current = 2.05 * 0.55 + self._noise(0.05)
                acc2 = 0.268 * 1.2 + 0.004 + abs(self._noise(0.02))
            self._announce(dry, "dry_run")
        elif not _find(faults, "dry_running"):
            self._announce(None, "dry_run")
        metrics: dict[str, MetricValue] = {
            "accelerometer1_rms_g": round(max(0.0, acc1), 5),
            "accelerometer2_rms_g": round(max(0.0, acc2), 5),
            "current_a": round(max(0.0, current), 4),
            "voltage_v": round(voltage, 2),
            "pressure_bar": round(max(-0.5, pressure), 4),
            "motor_temperature_c": round(motor_temp, 2),
            "fluid_temperature_c": round(fluid_temp, 2),
            "flow_rate_lpm": round(max(0.0, flow), 3),
            "running": self.running,
            "run_hours_h": round(self.run_hours, 4),
        }
        return self._finish(t_ms, metrics, faults)


class AccessModel(DeviceModel):
    """A badge-controlled door: people badge in, the door opens briefly and closes.

    Faults (params, defaults):
    - door_held_open: someone badges in and props the door open.
    - door_forced: the door is forced open without a credential and left open for
      open_s (40 s; people walk through it without badging); report_event 1 raises a
      `door_forced` event.
    - credential_brute_force: someone tries badge after badge (rate_per_min 4 refused).
    - lock_slowing: a weakening strike or a misaligned bolt (rate_ms_per_h 100 ms per
      hour, max_ms 3000).
    - reader_offline: the reader's cable is cut: no heartbeat, no badge read.
    - stuck_sensor / out_of_range: on lock_actuation_ms (offset -119 ms: a bridged door
      position switch makes the lock look instantaneous).
    """

    kind = "access"
    fault_types = (
        frozenset(
            {
                "door_held_open",
                "door_forced",
                "credential_brute_force",
                "lock_slowing",
                "reader_offline",
            }
        )
        | SENSOR_FAULTS
    )
    sensor_metric = "lock_actuation_ms"
    range_offset = -119.0

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.open_for_s = 0.0
        self.close_after_s = 0.0
        self.forced = False

    def sample(self, t_ms: int, dt_s: float, faults: list[ActiveFault]) -> dict[str, MetricValue]:
        rate_per_s = 0.02 * _traffic(hour_of_day(t_ms))
        valid = int(self.rng.poisson(rate_per_s * dt_s))
        invalid = int(self.rng.poisson(rate_per_s * dt_s * 0.01))
        offline = _find(faults, "reader_offline")
        if offline:
            valid = invalid = 0  # nothing is read
        brute = _find(faults, "credential_brute_force")
        if brute:
            invalid += int(self.rng.poisson(brute.param("rate_per_min", 4.0) * dt_s / 60))
        if self.open_for_s > 0:
            self.open_for_s += dt_s
            if self.open_for_s >= self.close_after_s:
                self.open_for_s = 0.0
                self.forced = False
        if self.forced:
            valid = 0  # through an open door nobody badges
        forced = _find(faults, "door_forced")
        if self._announce(forced, "door_forced", when=self.open_for_s == 0):
            assert forced is not None
            self.open_for_s, self.close_after_s = 0.001, forced.param("open_s", 40.0)
            self.forced, valid = True, 0
        if valid and self.open_for_s == 0:
            self.open_for_s = 0.001
            self.close_after_s = float(self.rng.uniform(3, 12))
        held = _find(faults, "door_held_open")
        door_open = self.open_for_s > 0
        held_s = self.open_for_s
        if held:
            if held.elapsed_s < dt_s and not door_open:
                valid = max(valid, 1)  # the person who props the door badged in
            door_open = True
            held_s = min(held.elapsed_s, 86_400.0)  # the contract's range: a day
        lock_ms = max(20.0, 120.0 + self._noise(6.0))
        slowing = _find(faults, "lock_slowing")
        if slowing:
            lock_ms += min(
                slowing.param("max_ms", 3000.0),
                slowing.param("rate_ms_per_h", 100.0) * slowing.elapsed_s / 3600,
            )
        metrics: dict[str, MetricValue] = {
            "door_open": door_open,
            "held_open_s": round(held_s, 1),
            "valid_credentials": valid,
            "invalid_credentials": invalid,
            "lock_actuation_ms": round(lock_ms, 1),
            "reader_ok": offline is None,
        }
        return self._finish(t_ms, metrics, faults)


MODELS: dict[str, type[DeviceModel]] = {
    "elevator": ElevatorModel,
    "lighting": LightingModel,
    "pump": PumpModel,
    "access": AccessModel,
}

# Faults the runner itself enacts, whatever the device kind.
GENERIC_FAULTS = frozenset({"offline"})
