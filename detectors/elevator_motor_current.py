"""Elevator motor current rising, predicted: a dragging brake, misaligned guide rails,
worn guide shoes, a failing gearbox or a counterweight out of balance make the drive work
harder on every trip. The running current creeps up for days before the drive trips on
overload (a lift out of service, maybe with people inside).

Only samples taken while the car moves (`speed_ms` not 0) count: the standing current
is the controller's, not the hoist's. They are reduced to bucket medians (10 minutes,
and at least 5 moving samples: trips are sparse at night). Score: the Theil-Sen slope
with its 95 % interval (`detectors.trend`). Decision: the level is 15 % above the learnt
baseline, the lower slope bound is positive and the limit (1.3 x baseline: motors are
sized with about that margin before the overload relay trips) is projected within 7 days,
for 3 buckets in a row; or the level is past the limit. The finding carries the hours to
the limit and their 95 % interval.
"""

from __future__ import annotations

from typing import ClassVar

from detectors.base import Detector, Finding, Severity, number
from detectors.trend import TrendTracker
from gateway.contract import DeviceRef
from gateway.payload import Sample

MOVING_MS = 0.05  # below this the car is standing (levelling creep included)


class MotorCurrentTrendDetector(Detector):
    name: ClassVar[str] = "elevator_motor_current_trend"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "motor_current_rising"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "motor_current_a"

    def __init__(
        self,
        device: DeviceRef,
        bucket_s: float = 600.0,
        warmup_buckets: int = 6,
        limit_factor: float = 1.3,
        rise_margin: float = 0.15,
        horizon_h: float = 7 * 24.0,
    ) -> None:
        super().__init__(device)
        self.trend = TrendTracker(
            bucket_s=bucket_s,
            warmup_buckets=warmup_buckets,
            limit_factor=limit_factor,
            rise_margin=rise_margin,
            horizon_h=horizon_h,
        )

    def score(self) -> tuple[float, float, float]:
        """Slope of the running current in A/h with its 95 % bounds."""
        return self.trend.score()

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        speed = number(sample.metrics, "speed_ms")
        if value is None or speed is None or abs(speed) < MOVING_MS:
            return []
        verdict = self.trend.add(sample.ts_ms, value)
        if verdict is None or not verdict.fired:
            return []
        summary = (
            f"motor current {verdict.level:.1f} A while running, past the "
            f"{verdict.limit:.1f} A limit"
            if verdict.crossed
            else f"motor current {verdict.level:.1f} A rising {verdict.slope_per_h * 24:.2f} A/day:"
            f" limit {verdict.limit:.1f} A in about {verdict.hours_to_limit:.1f} h"
        )
        return [self.finding(verdict.onset_ms, summary, verdict.evidence(self.metric, 3))]

    def fault_active(self) -> bool | None:
        return self.trend.fault_active()
