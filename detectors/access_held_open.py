"""Door held open: an access-controlled door left open defeats the control (tailgating,
fire compartment breached, propped doors). Immediate, with a per-site threshold.

Score: how long the door reports being open. Decision: above `limit_s` on
`persist` samples in a row (one glitched reading is not enough); fires once per
opening and re-arms only when the door reports closed `persist` times in a row.
"""

from __future__ import annotations

from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Persistence


class DoorHeldOpenConfig(DetectorConfig):
    limit_s: float = 60.0
    persist: int = 2


class DoorHeldOpenDetector(Detector):
    name: ClassVar[str] = "access_door_held_open"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"access"})
    fault_type: ClassVar[str] = "door_held_open"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[DoorHeldOpenConfig]] = DoorHeldOpenConfig
    config: DoorHeldOpenConfig

    def __init__(self, device: DeviceRef, config: DoorHeldOpenConfig | None = None) -> None:
        super().__init__(device, config)
        self.limit_s = self.config.limit_s
        self.persistence = Persistence(self.config.persist)
        self.last_score: float | None = None

    def score(self, now_ms: int) -> float | None:
        """Seconds the door was held open at the last sample (0 when closed)."""
        return self.last_score

    @staticmethod
    def _held_s(sample: Sample) -> float:
        held = number(sample.metrics, "held_open_s")
        if sample.metrics.get("door_open") is not True or held is None:
            return 0.0
        return held

    def update(self, sample: Sample) -> list[Finding]:
        door_open = sample.metrics.get("door_open")
        if door_open is None or (
            door_open is True and number(sample.metrics, "held_open_s") is None
        ):
            return []  # a partial sample (or a non-finite reading) says nothing either way
        held_s = self._held_s(sample)
        self.last_score = held_s
        if not self.persistence.observe(held_s > self.limit_s, sample.ts_ms, door_open is False):
            return []
        onset = sample.ts_ms - int(held_s * 1000)
        return [
            self.finding(
                onset,
                f"door held open for {held_s:.0f} s (limit {self.limit_s:.0f} s)",
                {"metric": "held_open_s", "value": held_s, "threshold": self.limit_s},
                key="held_open",
                params={"held_s": held_s, "limit_s": self.limit_s},
            )
        ]

    def fault_active(self) -> bool | None:
        if self.last_score is None:
            return None
        return self.persistence.active
