"""Pump bearing wear, predicted: vibration RMS creeps up for days or weeks as a
bearing wears, before it seizes. The detector estimates the trend and the time
until vibration crosses the alarm limit, and opens a ticket while there is
still time to plan the repair.

Running samples of `accelerometer1_rms_g` are reduced to per-minute medians.
Score: the Theil-Sen slope (robust to spikes) over the recent minutes with its
95 % interval. Decision: the level is clearly above the baseline, the lower
slope bound is positive and the projected crossing is within `horizon_h`, for
`persist` minutes in a row; or the level is already past the limit.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Persistence
from detectors.rolling import RollingWindow, median_of
from detectors.trend import finite_hours, steepest_rising_trend


class BearingWearConfig(DetectorConfig):
    bucket_s: float = 60.0
    warmup_buckets: int = 10
    trend_buckets: int = 120
    min_trend_buckets: int = 8
    limit_factor: float = 1.5  # the alarm limit, x the learnt baseline
    rise_margin: float = 0.05
    horizon_h: float = 7 * 24.0
    persist: int = 3
    short_trend_buckets: int = 30
    max_bucket_samples: int = 600


class BearingWearDetector(Detector):
    name: ClassVar[str] = "pump_bearing_wear"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"pump"})
    fault_type: ClassVar[str] = "bearing_wear"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "accelerometer1_rms_g"

    Config: ClassVar[type[BearingWearConfig]] = BearingWearConfig
    config: BearingWearConfig

    def __init__(self, device: DeviceRef, config: BearingWearConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.bucket_ms = int(c.bucket_s * 1000)
        self.warmup = RollingWindow(c.warmup_buckets)
        self.history: deque[tuple[int, float]] = deque(maxlen=c.trend_buckets)
        self.min_trend_buckets = c.min_trend_buckets
        self.short_trend_buckets = c.short_trend_buckets
        self.limit_factor = c.limit_factor
        self.rise_margin = c.rise_margin
        self.horizon_h = c.horizon_h
        self.persistence = Persistence(c.persist)
        self.baseline: float | None = None
        self._bucket_start: int | None = None
        self._bucket: deque[float] = deque(maxlen=c.max_bucket_samples)

    @property
    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline * self.limit_factor

    def _close_bucket(self) -> tuple[int, float] | None:
        if not self._bucket or self._bucket_start is None:
            return None
        point = (self._bucket_start, float(median_of(self._bucket)))
        self._bucket.clear()
        return point

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        if sample.metrics.get("running") is False:
            return []
        if value is None:
            return []
        bucket_start = sample.ts_ms - sample.ts_ms % self.bucket_ms
        closed = None
        if self._bucket_start is not None and bucket_start != self._bucket_start:
            closed = self._close_bucket()
        self._bucket_start = bucket_start
        self._bucket.append(value)
        if closed is None:
            return []
        return self._on_bucket(*closed)

    def score(self, now_ms: int) -> float | None:
        """The vibration's slope in g per hour (None until the trend is fitted; `fit()`
        gives its 95 % bounds too)."""
        if self.baseline is None or len(self.history) < self.min_trend_buckets:
            return None
        return self.fit()[0]

    def fit(self) -> tuple[float, float, float]:
        """Theil-Sen slope and its 95 % bounds, in g per hour.

        Wear starts at an unknown time, so the trend is fitted over the last 10
        minutes, the last `short_trend_buckets` and the whole history; among the fits
        with a significant rise the steepest wins (a flat past would dilute a fast
        ramp, and the earlier warning is the safe one). With no significant rise,
        the whole history answers.
        """
        return steepest_rising_trend(
            list(self.history), self.short_trend_buckets, self.min_trend_buckets
        )

    def _on_bucket(self, ts_ms: int, level: float) -> list[Finding]:
        if self.baseline is None:
            self.warmup.add(level)
            if self.warmup.full:
                self.baseline = self.warmup.median()
            return []
        self.history.append((ts_ms, level))
        if len(self.history) < self.min_trend_buckets:
            return []
        recent_level = float(median_of(v for _, v in list(self.history)[-3:]))
        clear = recent_level < self.baseline * (1 + self.rise_margin / 2)
        slope, low, high = self.fit()
        limit = self.limit
        elevated = recent_level > self.baseline * (1 + self.rise_margin)
        hours_to_limit = (limit - recent_level) / slope if slope > 0 else float("inf")
        predicted = elevated and low > 0 and hours_to_limit <= self.horizon_h
        crossed = recent_level >= limit
        if not self.persistence.observe(predicted or crossed, ts_ms, clear):
            return []
        hours_low = (limit - recent_level) / high if high > 0 else float("inf")
        hours_high = (limit - recent_level) / low if low > 0 else float("inf")
        summary = (
            f"vibration {recent_level:.3f} g past the {limit:.3f} g limit"
            if crossed
            else f"vibration {recent_level:.3f} g rising {slope * 24:.3f} g/day: "
            f"limit {limit:.3f} g in about {max(hours_to_limit, 0):.1f} h"
        )
        return [
            self.finding(
                self.persistence.first_ms or ts_ms,
                summary,
                {
                    "metric": self.metric,
                    "value": round(recent_level, 5),
                    "baseline": round(self.baseline, 5),
                    "threshold": round(limit, 5),
                    "slope_per_h": round(slope, 6),
                    "slope_95": [round(low, 6), round(high, 6)],
                    "hours_to_limit": None if crossed else round(max(hours_to_limit, 0.0), 2),
                    "hours_to_limit_95": None
                    if crossed
                    else [round(max(hours_low, 0.0), 2), finite_hours(hours_high)],
                    "window": [[t, round(v, 5)] for t, v in list(self.history)[-30:]],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline is None or len(self.history) < self.min_trend_buckets:
            return None
        return self.persistence.active
