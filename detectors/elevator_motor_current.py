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

from detectors.elevator_trend import RunningCarTrendConfig, RunningCarTrendDetector


class MotorCurrentTrendConfig(RunningCarTrendConfig):
    limit_factor: float = 1.3
    rise_margin: float = 0.15


class MotorCurrentTrendDetector(RunningCarTrendDetector):
    name: ClassVar[str] = "elevator_motor_current_trend"
    version: ClassVar[str] = "1"
    fault_type: ClassVar[str] = "motor_current_rising"
    metric: ClassVar[str] = "motor_current_a"
    label: ClassVar[str] = "motor current"
    unit: ClassVar[str] = "A"
    per_day: ClassVar[str] = "A/day"
    level_digits: ClassVar[int] = 1
    slope_digits: ClassVar[int] = 2
    evidence_digits: ClassVar[int] = 3
    Config: ClassVar[type[MotorCurrentTrendConfig]] = MotorCurrentTrendConfig
