"""Nuisance on a healthy signal, as `simulators/nuisance_params.py` declares it.

A `NuisanceLayer` belongs to one simulated device. The fleet asks it whether the device
is silent (a recording gap) and how long until its next sample (its cadence); the device
model hands it each sample's readings to bend (level shifts, drift, coupling, noise
regimes); a lighting model asks it for the lamps' output level (warm-up and dimming).

Everything is a function of the seed, the device id and the simulated clock, with its
own random streams: adding nuisance to one device leaves its model's own noise and every
other device unchanged, so a test can compare a signal with and without it.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Sequence
from typing import Final

import numpy as np

from contract.payload import MetricValue
from contract.topics import TELEMETRY_SCHEMAS, Kind
from simulators.nuisance_params import Coupling, Dimming, LightingNuisance, Nuisance, Warmup

HOUR_S: Final = 3600.0
DAY_S: Final = 86_400.0
WEEK_S: Final = 7 * DAY_S

# The readings each pattern bends when its `metrics` are not given: the kind's level
# (what a drifting baseline or a re-seated sensor moves), and what neighbours share.
LEVEL_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "pump": ("accelerometer1_rms_g",),
    "lighting": ("current_a",),
    "elevator": ("car_vibration_rms_ms2",),
    "access": ("lock_actuation_ms",),
}
SHARED_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "pump": ("accelerometer1_rms_g", "accelerometer2_rms_g"),  # one shaft
    "lighting": ("voltage_v",),  # one supply
    "elevator": ("car_vibration_rms_ms2",),  # one shaft
    "access": ("lock_actuation_ms",),  # one door controller's supply
}
DRIFT_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "pump": ("voltage_v",),
    "lighting": ("voltage_v",),
    "elevator": ("car_vibration_rms_ms2",),
    "access": ("lock_actuation_ms",),
}


# Computed from other readings after the nuisance (bend what they are computed from), or
# counted up (a run-hour meter neither drifts nor wobbles).
DERIVED_METRICS: Final[dict[str, frozenset[str]]] = {
    "lighting": frozenset({"power_w"}),
    "pump": frozenset({"run_hours_h"}),
}


def bendable_metrics(kind: str) -> list[str]:
    """Readings a pattern may bend: the kind's real-valued contract metrics, not derived."""
    derived = DERIVED_METRICS.get(kind, frozenset())
    return sorted(
        name
        for name, spec in TELEMETRY_SCHEMAS[Kind(kind)].items()
        if spec.type is float and name not in derived
    )


def warmup_level(since_on_s: float, warmup: Warmup) -> float:
    """Share of full output `since_on_s` after switch-on: from `start_fraction`, rising
    exponentially to 99 % at `duration` (the measured lamps settle that way)."""
    if since_on_s >= warmup.duration:
        return 1.0
    tau = warmup.duration / math.log(100.0)
    start = warmup.start_fraction
    return start + (1.0 - start) * (1.0 - math.exp(-max(0.0, since_on_s) / tau))


def dimming_level(since_on_s: float, on_hour: float, dimming: Dimming) -> float:
    """Share of full output `since_on_s` after a switch-on at `on_hour`: the last step
    passed tonight, faded in linearly over `fade`; 1 before the night's first step."""
    level, previous = 1.0, 1.0
    passed = sorted(((step.hour - on_hour) % 24.0 * HOUR_S, step.level) for step in dimming.steps)
    for offset_s, step_level in passed:
        if offset_s > since_on_s:
            break
        previous, level = level, step_level
        into = since_on_s - offset_s
        if into < dimming.fade:
            level = previous + (step_level - previous) * into / dimming.fade
            previous = step_level
    return level


class _SharedWobble:
    """A smooth random process of unit variance: Gaussian knots every `period`, seeded
    by (seed, name, knot index), joined linearly and rescaled to keep the variance.
    Its value depends on the time alone, never on who asks first."""

    def __init__(self, seed: int, name: str, period_s: float) -> None:
        self.key = [seed, zlib.crc32(name.encode())]
        self.period_s = period_s
        self._knots: dict[int, float] = {}

    def _knot(self, index: int) -> float:
        value = self._knots.get(index)
        if value is None:
            if len(self._knots) > 4:
                self._knots.clear()
            rng = np.random.default_rng([*self.key, index & 0xFFFFFFFF, index >> 32])
            value = self._knots[index] = float(rng.normal())
        return value

    def at(self, t_s: float) -> float:
        position = t_s / self.period_s
        index = math.floor(position)
        f = position - index
        a, b = self._knot(index), self._knot(index + 1)
        return ((1 - f) * a + f * b) / math.hypot(1 - f, f)


class NuisanceLayer:
    def __init__(
        self, kind: str, nuisance: Nuisance, seed: int, device_id: str, start_ms: int
    ) -> None:
        self.kind = kind
        self.spec = nuisance
        self.start_ms = start_ms
        device_key = zlib.crc32(device_id.encode())
        self.rng = np.random.default_rng([seed, device_key, 0x6E75])  # "nu"
        self._gaps = sorted((g.at, g.at + g.for_) for g in nuisance.gaps)
        self._cadence = sorted((c.at, c.every) for c in nuisance.cadence)
        self._cadence_at = [at for at, _ in self._cadence]
        self._shifts = sorted(
            (s.at, s.ratio, tuple(s.metrics or LEVEL_METRICS[kind])) for s in nuisance.level_shifts
        )
        self._noisy = False
        self._regime_until_s = 0.0
        self._coupling: tuple[Coupling, _SharedWobble, _SharedWobble, tuple[str, ...]] | None = None
        if nuisance.coupling is not None:
            c = nuisance.coupling
            self._coupling = (
                c,
                _SharedWobble(seed, f"group:{c.group}", c.period),
                _SharedWobble(seed, f"device:{device_id}", c.period),
                tuple(c.metrics or SHARED_METRICS[kind]),
            )
        self._specs = TELEMETRY_SCHEMAS[Kind(kind)]

    def elapsed_s(self, t_ms: int) -> float:
        return (t_ms - self.start_ms) / 1000

    # -- the fleet's questions -----------------------------------------------------------

    def silent(self, t_ms: int) -> bool:
        """Inside a recording gap: the device sends nothing."""
        elapsed = self.elapsed_s(t_ms)
        return any(begin <= elapsed < end for begin, end in self._gaps)

    def gap_windows(self) -> Sequence[tuple[float, float]]:
        """(begin, end) of every gap, in seconds from the start of the run."""
        return self._gaps

    def next_ms(self, t_ms: int, default_period_ms: int) -> int:
        """When the sample after the one at `t_ms` is due: the cadence in force at `t_ms`,
        or sooner when a cadence change falls in between (it takes effect on time)."""
        elapsed = self.elapsed_s(t_ms)
        index = bisect.bisect_right(self._cadence_at, elapsed) - 1
        period_ms = default_period_ms if index < 0 else round(self._cadence[index][1] * 1000)
        due = t_ms + max(1, period_ms)
        if index + 1 < len(self._cadence):
            change_ms = self.start_ms + round(self._cadence[index + 1][0] * 1000)
            due = min(due, max(change_ms, t_ms + 1))
        return due

    # -- a lighting model's question -------------------------------------------------------

    def output_level(self, since_on_s: float | None, on_hour: float) -> float:
        """Share of full lamp output: warm-up and dimming. `since_on_s` None: not on the
        schedule (left on, say): lamps are warm and undimmed."""
        if since_on_s is None or not isinstance(self.spec, LightingNuisance):
            return 1.0
        level = 1.0
        if self.spec.warmup is not None:
            level *= warmup_level(since_on_s, self.spec.warmup)
        if self.spec.dimming is not None:
            level *= dimming_level(since_on_s, on_hour, self.spec.dimming)
        return level

    # -- every model's readings --------------------------------------------------------------

    def bend(self, t_ms: int, metrics: dict[str, MetricValue]) -> dict[str, MetricValue]:
        """The readings with level shifts, drift, coupling and noise regimes applied."""
        elapsed = self.elapsed_s(t_ms)
        factors: dict[str, float] = {}

        def scale(names: Sequence[str], by: float) -> None:
            for name in names:
                factors[name] = factors.get(name, 1.0) * by

        for at, ratio, names in self._shifts:
            if elapsed >= at:
                scale(names, ratio)
        drift = self.spec.drift
        if drift is not None:
            t_s = t_ms / 1000
            daily = math.cos(2 * math.pi * (t_s / DAY_S - drift.peak_hour / 24.0))
            weekly = math.sin(2 * math.pi * t_s / WEEK_S)
            scale(drift.metrics or DRIFT_METRICS[self.kind], 1 + drift.daily * daily)
            if drift.weekly:
                scale(drift.metrics or DRIFT_METRICS[self.kind], 1 + drift.weekly * weekly)
        if self._coupling is not None:
            c, common, own = self._coupling[:3]
            t_s = t_ms / 1000
            wobble = math.sqrt(c.share) * common.at(t_s) + math.sqrt(1 - c.share) * own.at(t_s)
            scale(self._coupling[3], 1 + c.sd * wobble)
        noise = self.spec.noise
        if noise is not None:
            while elapsed >= self._regime_until_s:
                self._noisy = not self._noisy if self._regime_until_s else False
                mean = noise.noisy_for if self._noisy else noise.quiet_for
                self._regime_until_s += float(self.rng.exponential(mean))
            sd = noise.noisy_sd if self._noisy else noise.quiet_sd
            for name in noise.metrics or LEVEL_METRICS[self.kind]:
                scale([name], 1 + float(self.rng.normal(0.0, sd)) if sd else 1.0)
        for name, factor in factors.items():
            value = metrics.get(name)
            if factor == 1.0 or not isinstance(value, float):
                continue
            spec = self._specs[name]
            bent = value * factor
            if spec.minimum is not None:
                bent = max(spec.minimum, bent)
            if spec.maximum is not None:
                bent = min(spec.maximum, bent)
            metrics[name] = round(bent, 5)
        return metrics

    @property
    def noisy(self) -> bool:
        """Whether the last sample fell in a noisy period."""
        return self._noisy
