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

from detectors.base import Detector, Finding, Severity, number
from detectors.elevator_trend import MOVING_MS
from detectors.rolling import Persistence, median_of
from gateway.contract import DeviceRef
from gateway.payload import Sample

AT_LANDING_FLOOR = 0.1  # a car further than this from a whole floor is between floors


class LevellingErrorDetector(Detector):
    name: ClassVar[str] = "elevator_levelling_error"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "levelling_error"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "levelling_error_mm"

    def __init__(
        self,
        device: DeviceRef,
        limit_mm: float = 10.0,
        window: int = 15,
        persist: int = 5,
        clear_needed: int = 15,
    ) -> None:
        super().__init__(device)
        self.limit_mm = limit_mm
        self.recent: deque[float] = deque(maxlen=window)
        self.persistence = Persistence(persist, clear_needed)

    def score(self) -> float:
        """Median absolute levelling error over the window, in mm."""
        return median_of(self.recent) if self.recent else 0.0

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
        median = self.score()
        clear = median < 0.5 * self.limit_mm
        if not self.persistence.observe(median > self.limit_mm, sample.ts_ms, clear):
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
