"""Lamp or driver failure: a circuit that is switched on but draws far less current
than it normally does has dead lamps or a failed driver (dark corridors, garage
blind spots).

Score: rolling median of the on-state current over the circuit's expected draw
(learnt during its first on-hours). Decision: below `min_ratio` for `persist`
on-samples in a row; re-armed only above the middle of the gap back to
normal (hysteresis). Off samples neither score nor reset anything.
"""

from __future__ import annotations

from typing import ClassVar

from detectors.base import Detector, Finding, Severity, number
from detectors.rolling import Persistence, RollingWindow
from gateway.contract import DeviceRef
from gateway.payload import Sample


class LampFailureDetector(Detector):
    name: ClassVar[str] = "lighting_lamp_failure"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "lamp_failure"
    severity: ClassVar[Severity] = Severity.MAJOR

    def __init__(
        self,
        device: DeviceRef,
        warmup: int = 30,
        window: int = 5,
        persist: int = 5,
        min_ratio: float = 0.6,
    ) -> None:
        super().__init__(device)
        self.warmup = RollingWindow(warmup)
        self.recent = RollingWindow(window)
        # Re-arming needs several windows of normal draw: an intermittent driver
        # fault stays one finding.
        self.persistence = Persistence(persist, clear_needed=4 * window)
        self.min_ratio = min_ratio
        self.expected_a: float | None = None

    def score(self) -> float:
        if not self.expected_a:
            return 1.0
        return self.recent.median() / self.expected_a

    def update(self, sample: Sample) -> list[Finding]:
        on = sample.metrics.get("on")
        current = number(sample.metrics, "current_a")
        if on is not True or current is None:
            return []
        if self.expected_a is None:
            self.warmup.add(current)
            if self.warmup.full:
                self.expected_a = self.warmup.median()
            return []
        if self.expected_a <= 0:
            return []
        self.recent.add(current)
        if not self.recent.full:
            return []
        clear_above = self.min_ratio + 0.5 * (1 - self.min_ratio)
        lowest = min(self.recent.values) / self.expected_a
        if lowest > clear_above and lowest >= self.min_ratio:
            # The median is at least the lowest reading: clear, without sorting the
            # window (a healthy circuit, nearly every sample).
            self.persistence.observe(False, sample.ts_ms, True)
            return []
        ratio = self.score()
        clear = ratio > clear_above
        if not self.persistence.observe(ratio < self.min_ratio, sample.ts_ms, clear):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"circuit on but drawing {ratio:.0%} of its usual {self.expected_a:.2f} A",
                {
                    "metric": "current_a",
                    "value": round(self.recent.median(), 4),
                    "expected": round(self.expected_a, 4),
                    "ratio": round(ratio, 4),
                    "threshold": self.min_ratio,
                    "window": list(self.recent.values),
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.expected_a is None or not self.recent.full:
            return None
        return self.persistence.active
