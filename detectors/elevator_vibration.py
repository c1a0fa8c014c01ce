"""Elevator car vibration rising, predicted: worn roller guides or guide shoes, loose
rail brackets, worn ropes or sheave grooves and failing machine bearings raise the
car's vibration RMS over weeks. Passengers notice a rough ride first; left alone it ends
in damaged rails or a rope replacement.

Only samples taken while the car moves count (a standing car measures the building, not
the ride), and only plausible readings (up to 5 m/s2: beyond, `out_of_range` reports a
broken sensor). Bucket medians (10 minutes, at least 5 moving samples), a Theil-Sen slope with
its 95 % interval (`detectors.trend`). Decision: the level is 20 % above the learnt
baseline, the lower slope bound is positive and the limit (1.5 x baseline, as for pump
bearings) is projected within 7 days, for 3 buckets in a row; or the level is past the
limit. The finding carries the hours to the limit and their 95 % interval.
"""

from __future__ import annotations

from typing import ClassVar

from detectors.base import Detector, Finding, Severity, number
from detectors.elevator_motor_current import MOVING_MS
from detectors.generic_out_of_range import plausible
from detectors.trend import TrendTracker
from gateway.contract import DeviceRef
from gateway.payload import Sample


class CarVibrationTrendDetector(Detector):
    name: ClassVar[str] = "elevator_car_vibration_trend"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "car_vibration_rising"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "car_vibration_rms_ms2"

    def __init__(
        self,
        device: DeviceRef,
        bucket_s: float = 600.0,
        warmup_buckets: int = 6,
        limit_factor: float = 1.5,
        rise_margin: float = 0.2,
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
        """Slope of the running vibration RMS in m/s2 per hour with its 95 % bounds."""
        return self.trend.score()

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        speed = number(sample.metrics, "speed_ms")
        if value is None or speed is None or abs(speed) < MOVING_MS:
            return []
        if not plausible(self.device.kind, self.metric, value):
            return []  # a broken sensor (gravity in the RMS ...) is out_of_range's finding
        verdict = self.trend.add(sample.ts_ms, value)
        if verdict is None or not verdict.fired:
            return []
        summary = (
            f"car vibration {verdict.level:.3f} m/s2 while running, past the "
            f"{verdict.limit:.3f} m/s2 limit"
            if verdict.crossed
            else f"car vibration {verdict.level:.3f} m/s2 rising "
            f"{verdict.slope_per_h * 24:.3f} m/s2 a day: limit {verdict.limit:.3f} m/s2 in "
            f"about {verdict.hours_to_limit:.1f} h"
        )
        return [self.finding(verdict.onset_ms, summary, verdict.evidence(self.metric))]

    def fault_active(self) -> bool | None:
        return self.trend.fault_active()
