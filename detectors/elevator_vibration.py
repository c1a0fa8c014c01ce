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

from detectors.elevator_trend import RunningCarTrendConfig, RunningCarTrendDetector
from detectors.generic_out_of_range import plausible


class CarVibrationTrendConfig(RunningCarTrendConfig):
    limit_factor: float = 1.5
    rise_margin: float = 0.2


class CarVibrationTrendDetector(RunningCarTrendDetector):
    name: ClassVar[str] = "elevator_car_vibration_trend"
    version: ClassVar[str] = "1"
    fault_type: ClassVar[str] = "car_vibration_rising"
    metric: ClassVar[str] = "car_vibration_rms_ms2"
    label: ClassVar[str] = "car vibration"
    unit: ClassVar[str] = "m/s2"
    per_day: ClassVar[str] = "m/s2 a day"
    level_digits: ClassVar[int] = 3
    slope_digits: ClassVar[int] = 3
    Config: ClassVar[type[CarVibrationTrendConfig]] = CarVibrationTrendConfig

    def usable(self, value: float) -> bool:
        # A broken sensor (gravity in the RMS ...) is out_of_range's finding.
        return plausible(self.device.kind, self.metric, value)
