"""The parameters a scenario may give each device kind and each fault, with their ranges.

`simulators/models.py` reads these names (constructor arguments, `ActiveFault.param`);
declaring them here lets a scenario file refuse a misspelt or absurd value up front
instead of running silently with the default. The ranges keep every published reading
inside the telemetry contract (`contract/topics.py`).

>>> LightingParams.model_validate({"on_hour": 6}).on_hour
6.0
>>> sorted(FAULT_PARAMS["bearing_wear"].model_fields)
['rate_g_per_h']
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Params(BaseModel):
    """Parameters: exact names, finite numbers, no type coercion."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _number(default: float, description: str, ge: float = 0.0, le: float | None = None) -> Any:
    return Field(default, ge=ge, le=le, allow_inf_nan=False, description=description)


def _whole(default: int, description: str, ge: int = 0, le: int | None = None) -> Any:
    return Field(default, ge=ge, le=le, description=description)


def _flag(default: float, description: str) -> Any:
    return _number(default, f"{description} (1: yes, 0: no)", le=1.0)


# -- devices -----------------------------------------------------------------------------


class ElevatorParams(Params):
    floors: int = _whole(20, "landings the car serves", ge=1, le=200)


class LightingParams(Params):
    nominal_current_a: float = _number(4.0, "circuit current when on, A", le=100.0)
    on_hour: float = _number(18.0, "hour of day the timer switches on (UTC)", le=24.0)
    off_hour: float = _number(7.0, "hour of day the timer switches off (UTC)", le=24.0)
    daylight_lux: float = _number(400.0, "daylight the sensor sees at noon, lx", le=100_000.0)


class PumpParams(Params):
    day_share: float = _number(0.75, "share of each hour the pump runs, 06-23 UTC", le=1.0)
    night_share: float = _number(0.33, "share of each hour the pump runs at night", le=1.0)


class NoParams(Params):
    """Takes no parameters."""


DEVICE_PARAMS: dict[str, type[Params]] = {
    "elevator": ElevatorParams,
    "lighting": LightingParams,
    "pump": PumpParams,
    "access": NoParams,
}

# -- faults ------------------------------------------------------------------------------

_REPORT = "the device raises its own event when the fault begins"


class DoorSlowingParams(Params):
    rate_s_per_h: float = _number(1.0, "door time added per hour, s", le=3600.0)
    max_s: float = _number(12.0, "most door time added, s", le=100.0)


class DoorReversalsParams(Params):
    extra_per_trip: float = _number(0.5, "extra reversals per trip", le=10.0)


class LevellingErrorParams(Params):
    offset_mm: float = _number(
        15.0, "stop off the landing, mm (negative: low)", ge=-500.0, le=500.0
    )
    rate_mm_per_h: float = _number(0.0, "growth of the offset per hour, mm", le=500.0)
    max_mm: float = _number(40.0, "largest offset the growth reaches, mm", le=500.0)


class MotorCurrentRisingParams(Params):
    rate_a_per_h: float = _number(4.0, "running current added per hour, A", le=900.0)
    max_a: float = _number(30.0, "most running current added, A", le=900.0)


class CarVibrationRisingParams(Params):
    rate_ms2_per_h: float = _number(0.05, "ride vibration added per hour, m/s2", le=40.0)
    max_ms2: float = _number(1.0, "most ride vibration added, m/s2", le=40.0)


class EntrapmentParams(Params):
    offset_floor: float = _number(0.45, "where between two landings the car stops", le=1.0)
    report_event: float = _flag(1.0, _REPORT)
    fault_code: int = _whole(0, "code the controller shows (0: none)", le=65_535)


class FaultCodeParams(Params):
    code: int = _whole(1003, "code the controller sets", le=65_535)
    out_of_service: float = _flag(1.0, "the car parks with its doors closed")
    report_event: float = _flag(1.0, _REPORT)


class LampFailureParams(Params):
    remaining_fraction: float = _number(0.25, "share of current and light left", le=1.0)


class FlickerParams(Params):
    depth: float = _number(0.4, "largest share a sample loses", le=1.0)


class IlluminanceLowParams(Params):
    light_fraction: float = _number(0.35, "share of light left for the same current", le=1.0)


class BearingWearParams(Params):
    rate_g_per_h: float = _number(0.02, "vibration added per hour, g", le=10.0)


class CavitationParams(Params):
    intensity: float = _number(0.6, "how hard the inlet is starved, 0 to 1", le=1.0)


class DryRunningParams(Params):
    report_event: float = _flag(1.0, _REPORT)


class LeakageParams(Params):
    fraction: float = _number(0.3, "share of the flow the leak's path takes", le=0.9)


class DoorForcedParams(Params):
    open_s: float = _number(40.0, "how long the forced door stays open, s", le=86_400.0)
    report_event: float = _flag(1.0, _REPORT)


class CredentialBruteForceParams(Params):
    rate_per_min: float = _number(4.0, "refused badges per minute", le=1000.0)


class LockSlowingParams(Params):
    rate_ms_per_h: float = _number(100.0, "lock actuation time added per hour, ms", le=59_000.0)
    max_ms: float = _number(3000.0, "most actuation time added, ms", le=59_000.0)


class OutOfRangeParams(Params):
    offset: float | None = Field(
        None,
        ge=-1000.0,
        le=1000.0,
        allow_inf_nan=False,
        description="shift of the kind's sensor reading (default: elevator 9.81 m/s2, "
        "lighting and pump 35 V, access -119 ms)",
    )


FAULT_PARAMS: dict[str, type[Params]] = {
    "door_slowing": DoorSlowingParams,
    "door_reversals": DoorReversalsParams,
    "levelling_error": LevellingErrorParams,
    "motor_current_rising": MotorCurrentRisingParams,
    "car_vibration_rising": CarVibrationRisingParams,
    "entrapment": EntrapmentParams,
    "fault_code": FaultCodeParams,
    "lamp_failure": LampFailureParams,
    "flicker": FlickerParams,
    "lights_left_on": NoParams,
    "illuminance_low": IlluminanceLowParams,
    "bearing_wear": BearingWearParams,
    "cavitation": CavitationParams,
    "dry_running": DryRunningParams,
    "leakage": LeakageParams,
    "door_held_open": NoParams,
    "door_forced": DoorForcedParams,
    "credential_brute_force": CredentialBruteForceParams,
    "lock_slowing": LockSlowingParams,
    "reader_offline": NoParams,
    "stuck_sensor": NoParams,
    "out_of_range": OutOfRangeParams,
    "offline": NoParams,
}
