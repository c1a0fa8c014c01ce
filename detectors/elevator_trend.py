"""The shared shape of the elevator trend detectors: a reading taken while the car moves,
reduced to bucket medians and watched for a rise toward a limit (`detectors.trend`).

Each subclass names its metric, units and limits; this base does the filtering, the
tracking and the wording of the finding, so the detectors differ only where the
physics does. A gap in the samples (longer than the device's learnt rhythm allows,
`detectors.cadence`) is not a restart: the trend does not span it and a stable shift
after it becomes the baseline (`TrendTracker.on_gap`). Once fired, a level that keeps
rising by `escalate_rise` gives a new finding (critical past the limit).
"""

from __future__ import annotations

import sys
from typing import ClassVar

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.trend import TrendTracker

MOVING_MS = 0.05  # below this the car is standing (levelling creep included)
_MAX = sys.float_info.max  # a float within +-_MAX is finite


class RunningCarTrendConfig(DetectorConfig):
    """Buckets of `bucket_s`; the limit is `limit_factor` x the learnt baseline, and a
    rise counts once the level is `rise_margin` above it (each subclass sets these)."""

    bucket_s: float = 600.0
    warmup_buckets: int = Field(6, ge=1)
    limit_factor: float
    rise_margin: float
    horizon_h: float = 7 * 24.0
    step_ratio: float = 0.85  # a step explains the rise this much better than a line: no wear
    escalate_rise: float = 0.25  # once fired, a new finding when the level is this much higher
    settle_s: float = 1800.0  # after a gap: the first time not learnt
    relearn_s: float = 6 * 3600.0  # after a gap: the time judged for a stable shift
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 60.0


class RunningCarTrendDetector(Detector):
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str]
    label: ClassVar[str]  # how the summary names the reading
    unit: ClassVar[str]
    per_day: ClassVar[str]  # the slope's unit in the summary
    level_digits: ClassVar[int]
    slope_digits: ClassVar[int]
    evidence_digits: ClassVar[int] = 5
    Config: ClassVar[type[RunningCarTrendConfig]] = RunningCarTrendConfig
    config: RunningCarTrendConfig

    def __init__(self, device: DeviceRef, config: RunningCarTrendConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.trend = TrendTracker(
            bucket_s=c.bucket_s,
            warmup_buckets=c.warmup_buckets,
            limit_factor=c.limit_factor,
            rise_margin=c.rise_margin,
            horizon_h=c.horizon_h,
            step_ratio=c.step_ratio,
            escalate_rise=c.escalate_rise,
            settle_s=c.settle_s,
            relearn_s=c.relearn_s,
        )
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)

    def relearn(self, now_ms: int) -> None:
        """A repaired lift has its own normal: learn the baseline again."""
        self.trend.relearn()

    def score(self, now_ms: int) -> float | None:
        """Slope of the reading while running, per hour (None until the trend is fitted;
        `trend.fit()` gives its 95 % bounds too)."""
        return self.trend.fit()[0] if self.trend.ready else None

    def usable(self, value: float) -> bool:
        """Whether a reading may join the trend (subclasses drop broken-sensor values)."""
        return True

    def update(self, sample: Sample) -> list[Finding]:
        """The metric reads inline: motor current 1.15 -> 1.00 µs, car vibration 1.21 ->
        1.15 µs a sample, the rest is the trend's (bench devices replayed interleaved, CPU
        time, median of runs)."""
        ts_ms = sample.ts_ms
        if self.cadence.observe(ts_ms):
            self.trend.on_gap(ts_ms)
        metrics = sample.metrics
        # as `number`, whose answer for a finite float is the float itself (both read
        # before either is judged, as before: `number` may raise on a huge int)
        metric = self.metric
        value = metrics.get(metric)
        if type(value) is not float or not -_MAX <= value <= _MAX:
            value = number(metrics, metric)
        speed = metrics.get("speed_ms")
        if type(speed) is not float or not -_MAX <= speed <= _MAX:
            speed = number(metrics, "speed_ms")
        if value is None or speed is None or abs(speed) < MOVING_MS:
            return []
        if not self.usable(value):
            return []
        verdict = self.trend.add(ts_ms, value)
        if verdict is None or not (verdict.fired or verdict.escalated):
            return []
        d, u = self.level_digits, self.unit
        summary = (
            f"{self.label} {verdict.level:.{d}f} {u} while running, past the "
            f"{verdict.limit:.{d}f} {u} limit"
            if verdict.crossed
            else f"{self.label} {verdict.level:.{d}f} {u} rising "
            f"{verdict.slope_per_h * 24:.{self.slope_digits}f} {self.per_day}: "
            f"limit {verdict.limit:.{d}f} {u} in about {verdict.hours_to_limit:.1f} h"
        )
        evidence = verdict.evidence(self.metric, self.evidence_digits)
        severity = Severity.CRITICAL if verdict.escalated and verdict.crossed else None
        params: dict[str, float | int | str] = {
            "metric": self.metric,
            "value": round(verdict.level, d),
            "limit": round(verdict.limit, d),
            "unit": u,
        }
        if not verdict.crossed:
            params["slope"] = round(verdict.slope_per_h * 24, self.slope_digits)
            params["hours"] = verdict.hours_to_limit or 0.0
        key = "trend.crossed" if verdict.crossed else "trend.rising"
        return [self.finding(verdict.onset_ms, summary, evidence, severity, key=key, params=params)]

    def fault_active(self) -> bool | None:
        return self.trend.fault_active()
