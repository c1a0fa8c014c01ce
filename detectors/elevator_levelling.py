"""Elevator levelling error: the car stops with its floor above or below the landing.
Brake wear, rope stretch, a slipping encoder or a worn levelling sensor leave a step at
the sill that trips passengers and stops wheelchairs and trolleys (EN 81-20 asks for
stopping accuracy within 10 mm and re-levelling within 20 mm).

Score: the median of |levelling_error_mm| over the last `window_s` (at least
`min_window_samples`) of samples taken with the car standing at a landing (speed 0 when
reported, position within 0.1 floor of a landing when reported): one mis-measured stop
or a glitched reading cannot move it. Decision: above `limit_mm` for `hold_s` and
`persist` judgements; re-armed once below half the limit for `clear_s` and
`clear_needed` judgements (hysteresis). Durations become numbers of readings through the
lift's reporting interval (`detectors.windows`), so one configuration serves a lift
reporting every second and one reporting every ten minutes; a gap restarts the window
and the timing. Nothing is learnt: the limit is the standard's.
"""

from __future__ import annotations

import math
from typing import ClassVar, Final

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.elevator_trend import MOVING_MS
from detectors.rolling import median_unless_clear
from detectors.windows import TimedWindow, timing_restarts

AT_LANDING_FLOOR = 0.1  # a car further than this from a whole floor is between floors
_INF: Final = math.inf


class LevellingErrorConfig(DetectorConfig):
    limit_mm: float = 10.0
    window_s: float = 30.0
    min_window_samples: int = Field(5, ge=1)
    max_window_samples: int = Field(60, ge=1)
    hold_s: float = 8.0
    persist: int = 5
    clear_s: float = 30.0
    clear_needed: int = 15
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 30.0


class LevellingErrorDetector(Detector):
    name: ClassVar[str] = "elevator_levelling_error"
    version: ClassVar[str] = "2"
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
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)
        self.recent = TimedWindow(c.window_s, c.min_window_samples, c.max_window_samples)
        self.decider = Sustained(
            int(c.hold_s * 1000), int(c.clear_s * 1000), c.persist, c.clear_needed
        )

    def score(self, now_ms: int) -> float | None:
        """Median absolute levelling error over the window, in mm (None until it is full)."""
        return self.recent.median() if self.recent.full else None

    def update(self, sample: Sample) -> list[Finding]:
        """Judge one sample. `number`, the window's add, fullness and median are written
        out for the common case, and the median is skipped while every error in the window
        is below the re-arm bound (the bench samples replayed device by device in turn,
        CPU time: 2.1 to 1.7 µs an update)."""
        metrics = sample.metrics
        error = metrics.get(self.metric)
        if type(error) is not float or not -_INF < error < _INF:  # `number`, inline
            error = number(metrics, self.metric)
            if error is None:
                return []
        ts = sample.ts_ms
        cadence = self.cadence
        if cadence.observe(ts):
            self.recent.clear()
            timing_restarts(self.decider)
        speed = metrics.get("speed_ms")
        if type(speed) is not float or not -_INF < speed < _INF:
            speed = number(metrics, "speed_ms")
        if speed is not None and abs(speed) >= MOVING_MS:
            return []
        position = metrics.get("position_floor")
        if type(position) is not float or not -_INF < position < _INF:
            position = number(metrics, "position_floor")
        if position is not None and abs(position - round(position)) > AT_LANDING_FLOOR:
            return []
        recent = self.recent
        recent.fit(cadence)
        values = recent.values  # after `fit`, which may have resized it
        values.append(abs(error))

        if len(values) != values.maxlen:
            return []
        limit = self.limit_mm
        clear_below = 0.5 * limit
        decider = self.decider
        median = median_unless_clear(values, clear_below, limit)
        if median is None:  # every error below the re-arm bound, and so the median
            decider.observe(False, ts, True)
            return []
        if not decider.observe(median > limit, ts, median < clear_below):
            return []
        return [
            self.finding(
                self.decider.first_ms or ts,
                f"car stops {median:.1f} mm off the landing (limit {limit:.0f} mm)",
                {
                    "metric": self.metric,
                    "value": round(median, 2),
                    "threshold": limit,
                    "window": [round(v, 2) for v in recent.values],
                },
                key="levelling",
                params={"value_mm": median, "limit_mm": limit},
            )
        ]

    def fault_active(self) -> bool | None:
        if not self.recent.full:
            return None
        return self.decider.active
