"""The nuisance a device's `nuisance:` block may add to its healthy signal, with its ranges.

Real recordings are not clean: loggers stop for days, lamps warm up and dim at night, a
re-seated sensor reads a step higher, noise comes and goes, neighbours on one shaft or
circuit share part of their signal, the supply drifts with the day, and telemetry may
come once every ten minutes. Each pattern here is opt-in per device; its defaults are
measured on the shared corpus (`docs/simulators.md` names the file behind each one), so
`warmup: {}` gives the real street-lighting ramp. None of these is a fault: a detector
that opens a ticket on one is wrong.

>>> LightingNuisance.model_validate({"warmup": {}}).warmup.start_fraction
0.137
>>> sorted(Nuisance.model_fields)[:3]
['cadence', 'coupling', 'drift']
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from simulators.durations import Length, Offset
from simulators.scenario_params import Params

# Measured on ../shared/datasets (see docs/simulators.md, "Nuisance patterns"); the
# figures are printed again by `python -m tools.nuisance_defaults --data ../shared/datasets`.
WARMUP_S = 600.0  # streetlight-nights-1-3.csv: 0.93 kW at the first minute, 99 % by the 10th
WARMUP_START = 0.137  # the first minute's 4.2 A of the settled 30.8 A
DIM_FADE_S = 120.0  # each dimming step takes two one-minute samples
DIM_STEPS: tuple[tuple[float, float], ...] = (  # (hour of day UTC, share of full output)
    (19.0, 0.884),
    (21.0, 0.774),
    (0.0, 0.762),
    (1.0, 0.732),
)
SHIFT_RATIO = 1.2  # IMS test 1 (issue 19): every bearing 16-24 % higher after a 148 h gap
NOISE_QUIET_SD = 0.0  # skab anomaly-free: 0.5-0.7 % in quiet minutes (the model's own noise)
NOISE_NOISY_SD = 0.015  # skab anomaly-free: bursts of 1.2-1.8 % relative sd on accelerometer 1
NOISE_QUIET_S = 3600.0  # skab anomaly-free: a noisy burst every hour or so ...
NOISE_NOISY_S = 300.0  # ... lasting one to five minutes
COUPLING_SHARE = 0.3  # ims-test2.csv: bearings on one shaft correlate 0.19-0.39 (mean 0.29)
COUPLING_SD = 0.012  # ims-test2.csv: 1.2 % relative sd of the snapshot-to-snapshot wobble
COUPLING_PERIOD_S = 600.0  # ims-test2.csv: one snapshot every 10 minutes
DRIFT_DAILY = 0.016  # streetlight-nights-1-3.csv: voltage 220.2-227.5 V, +-1.6 % of 224.4 V
DRIFT_PEAK_HOUR = 12.0  # streetlight-nights-1-3.csv: the hourly mean voltage peaks at noon UTC


def _ratio(default: float, description: str, le: float = 1.0) -> Any:
    return Field(default, ge=0.0, le=le, allow_inf_nan=False, description=description)


_METRICS = Field(
    None,
    min_length=1,
    description="readings it bends (default: the kind's, see docs/simulators.md)",
)


class Gap(Params):
    """The device is silent: no telemetry, no event, no goodbye (a stopped logger)."""

    at: Offset = Field(description="when the silence begins, from the start of the run")
    for_: Length = Field(alias="for", description="how long nothing is heard")


class Warmup(Params):
    """Lamps draw and give a share of their output at switch-on and settle exponentially."""

    duration: Length = Field(WARMUP_S, description="time to reach 99 % of full output")
    start_fraction: float = _ratio(WARMUP_START, "share of full output at switch-on")


class DimStep(Params):
    hour: float = Field(ge=0.0, lt=24.0, allow_inf_nan=False, description="hour of day, UTC")
    level: float = _ratio(1.0, "share of full output from this hour until the next step")


class Dimming(Params):
    """Part-night dimming: steps down in output while the circuit is on."""

    steps: list[DimStep] = Field(
        default_factory=lambda: [DimStep(hour=h, level=v) for h, v in DIM_STEPS],
        min_length=1,
        description="levels by hour of day; the level before the first step of the night is 1",
    )
    fade: Length = Field(DIM_FADE_S, description="how long each step takes")


class LevelShift(Params):
    """A step in a healthy baseline (maintenance, a re-seated sensor): the readings are
    multiplied by `ratio` from `at` on."""

    at: Offset = Field(description="when the step happens, from the start of the run")
    ratio: float = Field(
        SHIFT_RATIO, gt=0.0, le=10.0, allow_inf_nan=False, description="new level / old level"
    )
    metrics: list[str] | None = _METRICS


class NoiseRegimes(Params):
    """Sensor noise that switches between quiet and noisy periods of random length."""

    quiet_sd: float = _ratio(NOISE_QUIET_SD, "extra relative noise while quiet")
    noisy_sd: float = _ratio(NOISE_NOISY_SD, "extra relative noise while noisy")
    quiet_for: Length = Field(NOISE_QUIET_S, description="mean length of a quiet period")
    noisy_for: Length = Field(NOISE_NOISY_S, description="mean length of a noisy period")
    metrics: list[str] | None = _METRICS


class Coupling(Params):
    """Neighbours on one shaft or circuit: devices naming the same `group` share `share` of
    a slow relative wobble, so their readings correlate by about `share`."""

    group: str = Field(min_length=1, max_length=64, description="shared shaft or circuit")
    share: float = _ratio(COUPLING_SHARE, "share of the wobble the group has in common")
    sd: float = _ratio(COUPLING_SD, "relative standard deviation of the wobble")
    period: Length = Field(COUPLING_PERIOD_S, description="how fast the wobble moves")
    metrics: list[str] | None = _METRICS


class Drift(Params):
    """Slow temperature-driven drift: daily and weekly sinusoids, relative to the reading."""

    daily: float = _ratio(DRIFT_DAILY, "relative amplitude of the daily swing", le=0.5)
    weekly: float = _ratio(0.0, "relative amplitude of the weekly swing", le=0.5)
    peak_hour: float = Field(
        DRIFT_PEAK_HOUR, ge=0.0, lt=24.0, allow_inf_nan=False, description="daily peak, UTC"
    )
    metrics: list[str] | None = _METRICS


class CadenceStep(Params):
    at: Offset = Field(0.0, description="from when, from the start of the run")
    every: Length = Field(description="time between samples, like 10m")


class Nuisance(Params):
    """What real equipment adds to a healthy signal; every key is optional."""

    gaps: list[Gap] = Field([], description="recording gaps: the device is silent")
    level_shifts: list[LevelShift] = Field([], description="steps in the healthy baseline")
    noise: NoiseRegimes | None = None
    coupling: Coupling | None = None
    drift: Drift | None = None
    cadence: list[CadenceStep] = Field(
        [], description="sample interval from given times (default: the scenario's rate_hz)"
    )


class LightingNuisance(Nuisance):
    """A lighting circuit may also warm up at switch-on and dim part of the night."""

    warmup: Warmup | None = None
    dimming: Dimming | None = None
