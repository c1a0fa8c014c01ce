"""Actuation slowing, one detector for every mechanism whose operating time creeps up as
it wears: an elevator door's close time, a lock's actuation time. Each registered
detector (`elevator_door`, `access_lock_slowing`) names its metric, its presentation and
its defaults; the logic lives here once.

Score: the rolling median of the metric over the last `window` samples minus the
device's own baseline (the median of its first `warmup` samples). Decision
(`Hysteresis`): above `baseline + max(min_margin, rel_margin x baseline)` for `persist`
samples in a row; re-armed once below the middle of that margin for `clear_needed`
samples, so a time hovering at the limit fires once and an intermittent fault that
comes back within the re-arm stays one finding.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Hysteresis
from detectors.generic_out_of_range import plausible
from detectors.rolling import median_of


class SlowingConfig(DetectorConfig):
    """Warm-up, window and re-arm in samples; `min_margin` in the metric's unit."""

    warmup: int = 60
    window: int = 15
    persist: int = 5
    clear_needed: int = 30
    min_margin: float
    rel_margin: float


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
        # plain deques: this runs on every sample of every door and lock
        self.warmup: deque[float] = deque(maxlen=c.warmup)
        self.recent: deque[float] = deque(maxlen=c.window)
        self.persistence = Hysteresis(c.persist, c.clear_needed)
        self.min_margin = c.min_margin
        self.rel_margin = c.rel_margin
        self.baseline: float | None = None

    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline + max(self.min_margin, self.rel_margin * self.baseline)

    def score(self, now_ms: int) -> float | None:
        """Median over the window minus the baseline, in the metric's unit."""
        if self.baseline is None or len(self.recent) < (self.recent.maxlen or 0):
            return None
        return median_of(self.recent) - self.baseline

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        if value is None:
            return []
        if self.skip_implausible and not plausible(self.device.kind, self.metric, value):
            return []
        if self.baseline is None:
            self.warmup.append(value)
            if len(self.warmup) == self.warmup.maxlen:
                self.baseline = median_of(self.warmup)
                self.warmup.clear()  # learnt: the readings are no longer needed
            return []
        recent = self.recent
        recent.append(value)
        if len(recent) < (recent.maxlen or 0):
            return []
        median, limit = median_of(recent), self.limit()
        clear_below = limit - 0.5 * (limit - self.baseline)
        if not self.persistence.decide(median, limit, clear_below, sample.ts_ms):
            return []
        return [self._finding(sample.ts_ms, median, limit)]

    def _finding(self, ts_ms: int, median: float, limit: float) -> Finding:
        assert self.baseline is not None
        d, e, u = self.summary_digits, self.evidence_digits, self.unit
        window = list(self.recent)
        return self.finding(
            self.persistence.first_ms or ts_ms,
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
        )

    def fault_active(self) -> bool | None:
        if self.baseline is None or len(self.recent) < (self.recent.maxlen or 0):
            return None
        return self.persistence.active
