"""Actuation slowing, one detector for every mechanism whose operating time creeps up as
it wears: an elevator door's close time, a lock's actuation time. Each registered
detector (`elevator_door`, `access_lock_slowing`) names its metric, its presentation and
its defaults; the logic lives here once.

Everything is in time, so one configuration serves a device reporting every second and
one reporting every ten minutes (`detectors.windows`, `detectors.cadence`):

- Baseline: the median of the readings of the first `warmup_s` (at least
  `min_warmup_samples`). Re-learnt only by `relearn()` (a verified repair: a new door
  operator or lock has its own normal). A gap during the warm-up starts it again.
- Score: the median of the readings of the last `window_s` (at least
  `min_window_samples`, at most `max_window_samples`) minus the baseline.
- Decision (`Sustained`): above `baseline + max(min_margin, rel_margin x baseline)` for
  `hold_s` and `persist` judgements; re-armed once below the middle of that margin for
  `clear_s` and `clear_needed` judgements, so a time hovering at the limit fires once and
  an intermittent fault that comes back within the re-arm stays one finding.
- A gap (a silence longer than the device's rhythm allows) is not a restart: the
  baseline stays, the window starts afresh and a condition being timed starts over.
"""

from __future__ import annotations

import math
from typing import ClassVar, Final

from pydantic import Field

from contract.finding import Finding
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.generic_out_of_range import plausible
from detectors.rolling import median_unless_clear
from detectors.windows import TimedWarmup, TimedWindow, timing_restarts


class SlowingConfig(DetectorConfig):
    """Durations in seconds, each with its least number of readings; `min_margin` in the
    metric's unit."""

    warmup_s: float = 120.0
    min_warmup_samples: int = 12
    window_s: float = 60.0
    min_window_samples: int = Field(5, ge=1)
    max_window_samples: int = Field(60, ge=1)
    hold_s: float = 10.0
    persist: int = 3
    clear_s: float = 60.0
    clear_needed: int = 10
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 30.0
    min_margin: float
    rel_margin: float


_INF: Final = math.inf
MAX_WARMUP_SAMPLES = 200  # a warm-up keeps at most this many readings, evenly spread


class SlowingDetector(Detector):
    """The shared logic; a registered subclass sets the identity and presentation."""

    metric: ClassVar[str]
    label: ClassVar[str]  # how the summary names the reading
    unit: ClassVar[str]
    summary_digits: ClassVar[int]
    evidence_digits: ClassVar[int]
    window_digits: ClassVar[int | None]  # None: the window's readings as measured
    # Leave readings outside the plausible band to `out_of_range` (one broken sensor,
    # one ticket) instead of taking them for a slow mechanism.
    skip_implausible: ClassVar[bool]
    Config: ClassVar[type[SlowingConfig]] = SlowingConfig
    config: SlowingConfig

    def __init__(self, device: DeviceRef, config: SlowingConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)
        self.warmup = TimedWarmup(c.warmup_s, c.min_warmup_samples, MAX_WARMUP_SAMPLES)
        self.recent = TimedWindow(c.window_s, c.min_window_samples, c.max_window_samples)
        self.decider = self._decider()
        self.min_margin = c.min_margin
        self.rel_margin = c.rel_margin
        self.baseline: float | None = None

    def _decider(self) -> Sustained:
        c = self.config
        return Sustained(int(c.hold_s * 1000), int(c.clear_s * 1000), c.persist, c.clear_needed)

    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline + max(self.min_margin, self.rel_margin * self.baseline)

    def relearn(self, now_ms: int) -> None:
        """A repaired mechanism: learn its operating time again from the next readings."""
        self.baseline = None
        self.warmup.restart()
        self.recent.clear()
        self.decider = self._decider()

    def score(self, now_ms: int) -> float | None:
        """Median over the window minus the baseline, in the metric's unit."""
        if self.baseline is None or not self.recent.full:
            return None
        return self.recent.median() - self.baseline

    def update(self, sample: Sample) -> list[Finding]:
        """Judge one reading. A full window on a steady rhythm is nearly every call: its
        path has `TimedWindow.add`/`full`/`median`, `median_of` and `limit` written out (the
        same float operations in the same order), and skips the median while every reading
        in the window is below the re-arm bound (the bench samples replayed device by device
        in turn, CPU time: locks 2.3 to 1.75 µs an update, doors 2.15 to 1.8)."""
        metric = self.metric
        value = sample.metrics.get(metric)
        if type(value) is not float or not -_INF < value < _INF:  # the common case inline
            value = number(sample.metrics, metric)
            if value is None:
                return []
        if self.skip_implausible and not plausible(self.device.kind, metric, value):
            return []
        ts = sample.ts_ms
        cadence = self.cadence
        if cadence.observe(ts):
            self.recent.clear()
            timing_restarts(self.decider)
            if self.baseline is None:
                self.warmup.restart()  # a warm-up never spans a gap
        baseline = self.baseline
        if baseline is None:
            self.baseline = self.warmup.add(ts, value, cadence)
            return []
        recent = self.recent
        recent.fit(cadence)
        values = recent.values  # after `fit`, which may have resized it
        values.append(value)

        if len(values) != values.maxlen:
            return []
        margin = self.rel_margin * baseline  # `limit()`; `max` keeps the first of equals
        if not margin > self.min_margin:
            margin = self.min_margin
        limit = baseline + margin
        clear_below = limit - 0.5 * (limit - baseline)
        decider = self.decider
        median = median_unless_clear(values, clear_below, limit)
        if median is None:  # every reading below the re-arm bound, and so the median
            decider.observe(False, ts, True)
            return []
        if not decider.observe(median > limit, ts, median < clear_below):
            return []
        return [self._finding(ts, median, limit)]

    def _finding(self, ts_ms: int, median: float, limit: float) -> Finding:
        assert self.baseline is not None
        d, e, u = self.summary_digits, self.evidence_digits, self.unit
        window = list(self.recent.values)
        return self.finding(
            self.decider.first_ms or ts_ms,
            f"{self.label} {median:.{d}f} {u}, baseline {self.baseline:.{d}f} {u} "
            f"(limit {limit:.{d}f} {u})",
            {
                "metric": self.metric,
                "value": round(median, e),
                "baseline": round(self.baseline, e),
                "threshold": round(limit, e),
                "window": window
                if self.window_digits is None
                else [round(v, self.window_digits) for v in window],
            },
            key="slowing",
            params={
                "metric": self.metric,
                "value": round(median, d),
                "baseline": round(self.baseline, d),
                "limit": round(limit, d),
                "unit": u,
            },
        )

    def fault_active(self) -> bool | None:
        if self.baseline is None or not self.recent.full:
            return None
        return self.decider.active
