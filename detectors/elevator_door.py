"""Elevator door slowing: the close time drifts up as door operators, rollers and
belts wear or the door track fouls, long before the door stalls and traps users.

Score: rolling median of the close time minus the device's own baseline (learnt
during warm-up). Decision: above `baseline + max(min_margin_s, rel_margin * baseline)`
for `persist` samples in a row; re-armed only once back below the middle of
that margin (hysteresis), so a close time hovering at the limit fires once.
"""

from __future__ import annotations

from typing import ClassVar

from detectors.base import Detector, Finding, Severity, number
from detectors.rolling import Persistence, RollingWindow
from gateway.contract import DeviceRef
from gateway.payload import Sample


class DoorSlowingDetector(Detector):
    name: ClassVar[str] = "elevator_door_slowing"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "door_slowing"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "door_close_time_s"

    def __init__(
        self,
        device: DeviceRef,
        warmup: int = 60,
        window: int = 15,
        persist: int = 5,
        min_margin_s: float = 1.0,
        rel_margin: float = 0.3,
    ) -> None:
        super().__init__(device)
        self.warmup = RollingWindow(warmup)
        self.recent = RollingWindow(window)
        # Re-arming needs a whole window of normal medians: an intermittent fault
        # that comes back within the window stays one finding.
        self.persistence = Persistence(persist, clear_needed=2 * window)
        self.min_margin_s = min_margin_s
        self.rel_margin = rel_margin
        self.baseline: float | None = None

    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline + max(self.min_margin_s, self.rel_margin * self.baseline)

    def score(self) -> float:
        return self.recent.median() - (self.baseline or 0.0)

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        if value is None:
            return []
        if self.baseline is None:
            self.warmup.add(value)
            if self.warmup.full:
                self.baseline = self.warmup.median()
            return []
        self.recent.add(value)
        if not self.recent.full:
            return []
        median = self.recent.median()
        limit = self.limit()
        assert self.baseline is not None
        clear_below = limit - 0.5 * (limit - self.baseline)
        if not self.persistence.observe(median > limit, sample.ts_ms, median < clear_below):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"door close time {median:.2f} s, baseline {self.baseline:.2f} s "
                f"(limit {limit:.2f} s)",
                {
                    "metric": self.metric,
                    "value": round(median, 3),
                    "baseline": round(self.baseline, 3),
                    "threshold": round(limit, 3),
                    "window": list(self.recent.values),
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline is None or not self.recent.full:
            return None
        return self.persistence.active
