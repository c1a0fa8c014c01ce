"""Lighting flicker: a failing LED driver, an end-of-life fluorescent tube or starter, or a
loose connection makes the light pulse. Flicker gives headaches and eye strain, hides
moving hazards in garages and stairwells, and announces the failure to come.

Score: the robust coefficient of variation of the on-state current over the last
`window` on-samples: 1.4826 x MAD / median. The MAD only grows when more than half of
the window deviates, so a single spike, a sensor glitch or a clean step (a lamp that
fails outright, a dimming change) leaves it at the noise level; a current that keeps
jumping does not. Learning: the circuit's own steady CV over its first windows (some
drivers are noisier than others). Decision: the CV is above `max(min_cv, rel_factor x
learnt CV)` for `persist` on-samples in a row; re-armed once below half that limit for
`clear_needed` on-samples. The first on-sample after a switch-on (soft start, inrush)
is not scored; off samples are ignored.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag, number
from detectors.decision import Hysteresis
from detectors.rolling import mad_sigma_of, median_of


class FlickerConfig(DetectorConfig):
    window: int = 15
    warmup_windows: int = 10
    min_cv: float = 0.10
    rel_factor: float = 4.0
    persist: int = 5
    clear_needed: int = 15


class FlickerDetector(Detector):
    name: ClassVar[str] = "lighting_flicker"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "flicker"
    severity: ClassVar[Severity] = Severity.MINOR

    Config: ClassVar[type[FlickerConfig]] = FlickerConfig
    config: FlickerConfig

    def __init__(self, device: DeviceRef, config: FlickerConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.recent: deque[float] = deque(maxlen=c.window)
        self.warmup: deque[float] = deque(maxlen=c.warmup_windows)
        self.min_cv = c.min_cv
        self.rel_factor = c.rel_factor
        self.persistence = Hysteresis(c.persist, c.clear_needed)
        self.baseline_cv: float | None = None
        self.was_on: bool | None = None

    @property
    def limit(self) -> float:
        assert self.baseline_cv is not None
        return max(self.min_cv, self.rel_factor * self.baseline_cv)

    def score(self, now_ms: int) -> float | None:
        """Robust CV of the on-state current over the window (None until the baseline is
        learnt)."""
        return None if self.baseline_cv is None else self._cv()

    def _cv(self) -> float:
        """The robust CV (0 while the window is not full)."""
        if len(self.recent) < (self.recent.maxlen or 0):
            return 0.0
        centre = median_of(self.recent)
        return mad_sigma_of(self.recent) / centre if centre > 0 else 0.0

    def update(self, sample: Sample) -> list[Finding]:
        on = flag(sample.metrics, "on")
        current = number(sample.metrics, "current_a")
        if on is None or current is None:
            return []
        switched_on = on and self.was_on is False
        self.was_on = on
        if not on or switched_on:
            return []
        self.recent.append(current)
        if len(self.recent) < (self.recent.maxlen or 0) or median_of(self.recent) <= 0:
            return []
        cv = self._cv()
        if self.baseline_cv is None:
            self.warmup.append(cv)
            if len(self.warmup) == self.warmup.maxlen:
                self.baseline_cv = median_of(self.warmup)
            return []
        limit = self.limit
        if not self.persistence.decide(cv, limit, 0.5 * limit, sample.ts_ms):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"lamp current varies {cv:.0%} (robust CV) while on, normally "
                f"{self.baseline_cv:.1%} (limit {limit:.0%}): flicker",
                {
                    "metric": "current_a",
                    "value": round(cv, 4),
                    "baseline": round(self.baseline_cv, 4),
                    "threshold": round(limit, 4),
                    "window": [round(v, 4) for v in self.recent],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline_cv is None:
            return None
        return self.persistence.active
