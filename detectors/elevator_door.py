"""Elevator door slowing: the close time drifts up as door operators, rollers and
belts wear or the door track fouls, long before the door stalls and traps users.

The logic is `detectors.slowing` (score: rolling median of the close time minus the
learnt baseline; hysteresis on `baseline + max(min_margin, rel_margin x baseline)`);
this module names the metric and the defaults, in seconds.
"""

from __future__ import annotations

from typing import ClassVar

from contract.finding import Severity
from detectors.slowing import SlowingConfig, SlowingDetector


class DoorSlowingConfig(SlowingConfig):
    """Margins in seconds."""

    min_margin: float = 1.0
    rel_margin: float = 0.3


class DoorSlowingDetector(SlowingDetector):
    name: ClassVar[str] = "elevator_door_slowing"
    version: ClassVar[str] = "2"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "door_slowing"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "door_close_time_s"
    label: ClassVar[str] = "door close time"
    unit: ClassVar[str] = "s"
    summary_digits: ClassVar[int] = 2
    evidence_digits: ClassVar[int] = 3
    window_digits: ClassVar[int | None] = None
    skip_implausible: ClassVar[bool] = False
    Config: ClassVar[type[DoorSlowingConfig]] = DoorSlowingConfig
