"""Elevator levelling error: the car stops with its floor above or below the landing.
Brake wear, rope stretch, a slipping encoder or a worn levelling sensor leave a step at
the sill that trips passengers and stops wheelchairs and trolleys (EN 81-20 asks for
stopping accuracy within 10 mm and re-levelling within 20 mm).

Score: the rolling median of |levelling_error_mm| over the last `window` samples taken
with the car standing at a landing (speed 0 when reported, position within 0.1 floor
of a landing when reported): one mis-measured stop or a glitched reading cannot move
it. Decision: above `limit_mm` for `persist` samples in a row; re-armed once below half
the limit for `clear_needed` samples (hysteresis). Nothing is learnt: the limit is the
standard's.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Hysteresis
from detectors.elevator_trend import MOVING_MS
from detectors.rolling import median_of

AT_LANDING_FLOOR = 0.1  # a car further than this from a whole floor is between floors


class LevellingErrorConfig(DetectorConfig):
    limit_mm: float = 10.0
    window: int = 15
    persist: int = 5
    clear_needed: int = 15


class LevellingErrorDetector(Detector):
    name: ClassVar[str] = "elevator_levelling_error"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "levelling_error"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "levelling_error_mm"

    Config: ClassVar[type[LevellingErrorConfig]] = LevellingErrorConfig
    config: LevellingErrorConfig

    def __init__(self, device: DeviceRef, config: LevellingErrorConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.limit_mm = c.limit_mm
        self.recent: deque[float] = deque(maxlen=c.window)
        self.persistence = Hysteresis(c.persist, c.clear_needed)

    def score(self, now_ms: int) -> float | None:
        """Median absolute levelling error over the window, in mm (None until it is full)."""
        return median_of(self.recent) if len(self.recent) == self.recent.maxlen else None

    def update(self, sample: Sample) -> list[Finding]:
        error = number(sample.metrics, self.metric)
        if error is None:
            return []
        speed = number(sample.metrics, "speed_ms")
        if speed is not None and abs(speed) >= MOVING_MS:
            return []
        position = number(sample.metrics, "position_floor")
        if position is not None and abs(position - round(position)) > AT_LANDING_FLOOR:
            return []
        self.recent.append(abs(error))
        if len(self.recent) < (self.recent.maxlen or 0):
            return []
        median = median_of(self.recent)
        if not self.persistence.decide(median, self.limit_mm, 0.5 * self.limit_mm, sample.ts_ms):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"car stops {median:.1f} mm off the landing (limit {self.limit_mm:.0f} mm)",
                {
                    "metric": self.metric,
                    "value": round(median, 2),
                    "threshold": self.limit_mm,
                    "window": [round(v, 2) for v in self.recent],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if len(self.recent) < (self.recent.maxlen or 0):
            return None
        return self.persistence.active
