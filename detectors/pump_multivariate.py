"""Pump anomaly: a running pump leaves its normal operating point. A throttled inlet (the
pump starves), a throttled outlet, a leak, a rotor imbalance or cavitation each move
some of the pump's hydraulic or mechanical signals away from where they sat while it ran
normally: flow and pressure drop or swing, vibration RMS rises, the motor's current
follows the changed hydraulic load.

Learning: the first `warmup_samples` running samples (SKAB's protocol fits on 400), or
whatever running samples `warmup_s` seconds gave (at least `min_warmup_samples`) on a
device that reports sparsely, give each signal its normal level (median) and spread (a
robust standard deviation: the larger of 1.4826 MAD and 1.2533 mean absolute deviation,
so that a quantised signal that sits on one value most of the time still gets a spread).

A warm-up of minutes sees the sensors' noise, not how far a healthy pump's operating
point wanders over an hour (on SKAB's anomaly-free recording the vibration RMS wanders
by 4 % and the flow by 2 % while the short-term spread is a tenth of that). So each
spread has a floor: `drift_allowance[signal]` x the level / `threshold`, i.e. a
deviation within the allowance never reaches the threshold. The allowance is the normal
relative wander of the signal, measured on a fault-free recording of the same kind of
pump (`facmon evaluate skab` measures it on SKAB's `anomaly-free/` and prints it);
signals without one get `min_relative_spread` x the level.

Score: every signal is smoothed by an exponential average with a time constant of
`smooth_s` seconds, but never less than `min_smooth_samples` typical sampling intervals
(the median interval of the warm-up): a smoother shorter than one interval averages
nothing, and a device that reports once a minute would otherwise alarm on five unlucky
readings of sensor noise in a row. The smoothed signal is compared with its learnt
level in units of its learnt spread; the score is the largest absolute deviation.
Decision: a score of at least `threshold` for `persist` samples in a row raises the
alarm (one finding); a score below `threshold * clear_ratio` for `clear_persist`
samples in a row clears it; in between nothing changes (hysteresis). While the score is
in its clear band and no alarm stands, the learnt levels follow slow drift with a time
constant of `baseline_s` (never less than `min_baseline_samples` sampling intervals), so
an ongoing fault is never learnt as normal. A silence longer than `gap_intervals`
sampling intervals (and `min_gap_s`) is a gap (a stop is one too: stopped samples are
skipped): it counts as one interval for the drift, so nothing is re-learnt from the
first readings after it. The 3-sample median spans it: a glitch in the first reading
after a start must not pass unfiltered.

Temperatures are left out by default: motor and fluid temperature follow ambient and
duty over tens of minutes, so a short warm-up learns neither their range nor their
normal rate of change. On SKAB's valve1 recordings adding them, as levels or as rates,
raised false alarms without catching more (`facmon evaluate skab`).

Only samples that carry every monitored signal are used: the set is fixed by the first
sample that carries any of them; `running: false` samples are skipped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import ClassVar, Final

import numpy as np
from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig
from detectors.decision import Persistence

# Hydraulic and mechanical signals of contract kind `pump` (contract/topics.py).
PUMP_SIGNALS: Final = (
    "accelerometer1_rms_g",
    "accelerometer2_rms_g",
    "current_a",
    "voltage_v",
    "pressure_bar",
    "flow_rate_lpm",
)


def median_of_three(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Element-wise median of three vectors: exact, and a tenth of `np.median`'s cost,
    which profiled as a third of all ingest work on a pump fleet."""
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


class PumpMultivariateConfig(DetectorConfig):
    warmup_samples: int = Field(400, ge=2)
    warmup_s: float = Field(7200.0, gt=0)  # or this long, for a device that reports sparsely
    min_warmup_samples: int = Field(12, ge=2)  # ... with at least this many samples
    smooth_s: float = 5.0  # smoothing time constant (at least `min_smooth_samples`)
    min_smooth_samples: float = 3.0
    threshold: float = 2.5  # deviation in learnt spreads
    clear_ratio: float = 0.7  # re-armed below this x the threshold
    persist: int = 5
    clear_persist: int = 5
    baseline_s: float = 600.0  # the learnt level follows slow drift this slowly
    min_baseline_samples: float = 20.0  # ... but over at least this many intervals
    gap_intervals: float = Field(5.0, gt=1)  # a silence this many intervals long is a gap
    min_gap_s: float = Field(30.0, ge=0)  # ... and at least this long (jitter is not a gap)
    signals: tuple[str, ...] = PUMP_SIGNALS
    # A spread never below this fraction of the level: a signal that is constant during the
    # warm-up must not turn the sensor's last digit into an alarm.
    min_relative_spread: float = Field(1e-3, ge=0)
    # Normal relative wander per signal (fraction of its level), from a fault-free recording.
    drift_allowance: dict[str, float] = Field(default_factory=dict)


class PumpMultivariateDetector(Detector):
    name: ClassVar[str] = "pump_multivariate"
    version: ClassVar[str] = "3"
    kinds: ClassVar[frozenset[str]] = frozenset({"pump"})
    fault_type: ClassVar[str] = "pump_anomaly"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[PumpMultivariateConfig]] = PumpMultivariateConfig
    config: PumpMultivariateConfig

    def __init__(self, device: DeviceRef, config: PumpMultivariateConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.warmup_samples = c.warmup_samples
        self.smooth_s = c.smooth_s
        self.min_smooth_samples = c.min_smooth_samples
        self.threshold = c.threshold
        self.clear_level = c.threshold * c.clear_ratio
        self.baseline_s = c.baseline_s
        self.candidates = c.signals
        self.persistence = Persistence(c.persist, c.clear_persist)
        self.signals: tuple[str, ...] | None = None  # fixed by the first usable sample
        # The warm-up samples, one row each, allocated with the first: a fifth of the
        # memory of Python tuples, which at thousands of pumps was a hundred MB.
        self._warm_values: np.ndarray | None = None
        self._warm_ts: np.ndarray | None = None
        self._warm_count = 0
        self.level: np.ndarray | None = None  # learnt normal level per signal
        self.spread: np.ndarray | None = None  # learnt normal spread per signal
        self.smooth: np.ndarray | None = None  # smoothed current values
        self.z: np.ndarray | None = None  # last deviations, in spreads
        self.last_ts: int | None = None
        self.interval_s = 1.0  # the warm-up's median sampling interval
        self.gap_s = math.inf  # a silence longer than this is a gap
        # A running median of three drops a single glitched reading before smoothing.
        self._recent: deque[np.ndarray] = deque(maxlen=3)

    @property
    def fitted(self) -> bool:
        return self.level is not None

    @property
    def alarm(self) -> bool:
        """The decision: an alarm has been raised and has not cleared."""
        return self.persistence.fired

    def fault_active(self) -> bool | None:
        if not self.fitted:
            return None
        return self.persistence.active

    def score(self, now_ms: int) -> float | None:
        """The largest absolute deviation of a smoothed signal from its learnt level, in
        learnt spreads (None until the warm-up is over)."""
        return None if self.z is None else self._deviation()

    def _deviation(self) -> float:
        assert self.z is not None
        return float(np.max(np.abs(self.z)))

    def _values(self, metrics: dict[str, MetricValue]) -> np.ndarray | None:
        if metrics.get("running") is False:
            return None
        if self.signals is None:
            present = tuple(s for s in self.candidates if _is_number(metrics.get(s)))
            if not present:
                return None
            self.signals = present
        values = []
        for name in self.signals:
            value = metrics.get(name)
            if type(value) is not float:  # the common case: checked without isinstance
                if not isinstance(value, float | int) or isinstance(value, bool):
                    return None
                value = float(value)
            if not -math.inf < value < math.inf:
                return None
            values.append(value)
        return np.array(values)

    def _warm_long_enough(self) -> bool:
        """A sparse device: `warmup_s` of samples (and `min_warmup_samples`) will do."""
        assert self._warm_ts is not None
        count = self._warm_count
        if count < self.config.min_warmup_samples:
            return False
        return (self._warm_ts[count - 1] - self._warm_ts[0]) / 1000 >= self.config.warmup_s

    def _fit(self) -> None:
        assert self._warm_values is not None and self._warm_ts is not None
        data = self._warm_values[: self._warm_count]
        times_s = self._warm_ts[: self._warm_count].astype(float) / 1000
        level = np.median(data, axis=0)
        deviation = np.abs(data - level)
        spread = np.maximum(
            1.4826 * np.median(deviation, axis=0), 1.2533 * np.mean(deviation, axis=0)
        )
        floor = self._spread_floor(level)
        interval_s = float(np.median(np.diff(times_s)))
        self.smooth_s = max(self.smooth_s, self.min_smooth_samples * interval_s)
        self.baseline_s = max(self.baseline_s, self.config.min_baseline_samples * interval_s)
        self.interval_s = interval_s
        self.gap_s = max(self.config.gap_intervals * interval_s, self.config.min_gap_s)
        smooth = data[0].copy()
        for i in range(1, len(data)):  # the smoother's state at the end of the warm-up
            smooth += self._alpha(times_s[i] - times_s[i - 1], self.smooth_s) * (data[i] - smooth)
        self.level = level
        self.spread = np.maximum(spread, floor)
        self.smooth = smooth
        self.last_ts = int(self._warm_ts[self._warm_count - 1])
        self._warm_values = self._warm_ts = None

    def _spread_floor(self, level: np.ndarray) -> np.ndarray:
        """Per signal: the allowance's share of the level over the threshold, or the minimal
        relative spread where no allowance is given."""
        assert self.signals is not None
        c = self.config
        relative = np.array(
            [
                c.drift_allowance[name] / c.threshold
                if name in c.drift_allowance
                else c.min_relative_spread
                for name in self.signals
            ]
        )
        return relative * np.maximum(np.abs(level), 1e-6)

    @staticmethod
    def _alpha(dt_s: float, tau_s: float) -> float:
        return 1.0 - math.exp(-max(dt_s, 0.0) / tau_s)

    def update(self, sample: Sample) -> list[Finding]:
        values = self._values(sample.metrics)
        if values is None:
            return []
        if self.level is None:
            if self._warm_values is None or self._warm_ts is None:
                self._warm_values = np.empty((self.warmup_samples, len(values)))
                self._warm_ts = np.empty(self.warmup_samples, dtype=np.int64)
            self._warm_values[self._warm_count] = values
            self._warm_ts[self._warm_count] = sample.ts_ms
            self._warm_count += 1
            if self._warm_count == self.warmup_samples or self._warm_long_enough():
                self._fit()
            return []
        assert self.smooth is not None and self.spread is not None and self.last_ts is not None
        dt_s = (sample.ts_ms - self.last_ts) / 1000
        self.last_ts = max(self.last_ts, sample.ts_ms)
        self._recent.append(values)
        filtered = median_of_three(*self._recent) if len(self._recent) == 3 else values
        self.smooth += self._alpha(dt_s, self.smooth_s) * (filtered - self.smooth)
        self.z = (self.smooth - self.level) / self.spread
        score = self._deviation()
        clear = score < self.clear_level
        fired = self.persistence.observe(score >= self.threshold, sample.ts_ms, clear)
        if clear and not self.persistence.active:
            drift_s = self.interval_s if dt_s > self.gap_s else dt_s
            self.level += self._alpha(drift_s, self.baseline_s) * (self.smooth - self.level)
        if not fired:
            return []
        return [self._finding(sample.ts_ms, score)]

    def alarms(self, samples: Iterable[Sample]) -> list[bool]:
        """Feed a batch in order; the alarm state after each sample."""
        out = []
        for sample in samples:
            self.update(sample)
            out.append(self.alarm)
        return out

    def _finding(self, ts_ms: int, score: float) -> Finding:
        assert self.z is not None and self.signals is not None
        assert self.smooth is not None and self.level is not None and self.spread is not None
        worst = int(np.argmax(np.abs(self.z)))
        metric = self.signals[worst]
        direction = "above" if self.z[worst] > 0 else "below"
        return self.finding(
            self.persistence.first_ms or ts_ms,
            f"pump off its normal operating point: {metric} {self.smooth[worst]:.4g} is "
            f"{abs(self.z[worst]):.1f} spreads {direction} its normal {self.level[worst]:.4g}",
            {
                "metric": metric,
                "value": round(float(self.smooth[worst]), 6),
                "baseline": round(float(self.level[worst]), 6),
                "spread": round(float(self.spread[worst]), 6),
                "score": round(score, 3),
                "threshold": self.threshold,
                "deviations": {
                    name: round(float(z), 3) for name, z in zip(self.signals, self.z, strict=True)
                },
            },
        )


def _is_number(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)
