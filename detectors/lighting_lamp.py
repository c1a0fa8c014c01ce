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

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Hysteresis
from detectors.rolling import RollingWindow


class LampFailureConfig(DetectorConfig):
    warmup: int = 30
    window: int = 5
    persist: int = 5
    min_ratio: float = 0.6  # of the learnt current


class LampFailureDetector(Detector):
    name: ClassVar[str] = "lighting_lamp_failure"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "lamp_failure"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[LampFailureConfig]] = LampFailureConfig
    config: LampFailureConfig

    def __init__(self, device: DeviceRef, config: LampFailureConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.warmup = RollingWindow(c.warmup)
        self.recent = RollingWindow(c.window)
        # Re-arming needs several windows of normal draw: an intermittent driver
        # fault stays one finding.
        self.persistence = Hysteresis(c.persist, 4 * c.window, rising=False)
        self.min_ratio = c.min_ratio
        self.expected_a: float | None = None

    def score(self, now_ms: int) -> float | None:
        """The window's median current as a share of the learnt one (None until both)."""
        if self.expected_a is None or not self.recent.full:
            return None
        return self._ratio()

    def _ratio(self) -> float:
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
        ratio = self._ratio()
        if not self.persistence.decide(ratio, self.min_ratio, clear_above, sample.ts_ms):
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
