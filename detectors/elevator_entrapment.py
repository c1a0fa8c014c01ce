"""Elevator entrapment: the car has stopped between floors with its doors closed, so
anyone inside is trapped (a safety-circuit trip, a power cut, the safety gear, a
controller fault). Critical and immediate: the rescue clock starts now.

Telemetry: the car stands (`speed_ms` 0), its doors are closed and its position is more
than 0.1 floor from a landing, on at least `min_samples` samples spanning `min_s`
seconds (one glitched position reading is not a stopped car); the controller's
`entrapment` event opens the finding at once. One finding per episode, whichever comes
first; re-armed once the car has moved, opened its doors or reached a landing on
`clear_samples` samples in a row. Nothing is learnt.
"""

from __future__ import annotations

import math
from typing import ClassVar, Final

from contract.finding import Finding, Severity
from contract.payload import Event, Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag, number
from detectors.decision import Sustained
from detectors.elevator_levelling import AT_LANDING_FLOOR
from detectors.elevator_trend import MOVING_MS

_INF: Final = math.inf


class EntrapmentConfig(DetectorConfig):
    min_s: float = 30.0
    min_samples: int = 2
    clear_samples: int = 2


class EntrapmentDetector(Detector):
    name: ClassVar[str] = "elevator_entrapment"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "entrapment"
    severity: ClassVar[Severity] = Severity.CRITICAL

    Config: ClassVar[type[EntrapmentConfig]] = EntrapmentConfig
    config: EntrapmentConfig

    def __init__(self, device: DeviceRef, config: EntrapmentConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.state = Sustained(int(c.min_s * 1000), 0, c.min_samples, c.clear_samples)
        self.heard = False
        self.off_landing: float | None = None
        self.last_position: float | None = None

    def score(self, now_ms: int) -> float | None:
        """How far the car stood from a landing at the last sample (see `_off_landing`)."""
        return self.off_landing

    @staticmethod
    def _off_landing(sample: Sample) -> float | None:
        """How far the standing, closed car is from a landing, in floors (0 when it moves,
        has its doors open or stands at a landing; None for a sample without the signals)."""
        speed = number(sample.metrics, "speed_ms")
        closed = flag(sample.metrics, "doors_closed")
        position = number(sample.metrics, "position_floor")
        if speed is None or closed is None or position is None:
            return None
        if abs(speed) >= MOVING_MS or not closed:
            return 0.0
        return abs(position - round(position))

    def update(self, sample: Sample) -> list[Finding]:
        """Judge one sample. `_off_landing` (its `number` and `flag`) is written out, and
        the position read once (the bench samples replayed device by device in turn, CPU
        time: 1.4 to 1.0 µs an update)."""
        metrics = sample.metrics
        speed = metrics.get("speed_ms")
        if type(speed) is not float or not -_INF < speed < _INF:  # `number`, inline
            speed = number(metrics, "speed_ms")
        closed = metrics.get("doors_closed")  # `flag`: a bool, else None
        position = metrics.get("position_floor")
        if type(position) is not float or not -_INF < position < _INF:
            position = number(metrics, "position_floor")
        if speed is None or (closed is not True and closed is not False) or position is None:
            return []
        if abs(speed) >= MOVING_MS or not closed:
            off_landing = 0.0
        else:
            off_landing = abs(position - round(position))
        self.heard = True
        self.off_landing = off_landing
        self.last_position = position
        trapped = off_landing > AT_LANDING_FLOOR
        if not self.state.observe(trapped, sample.ts_ms):
            return []
        onset = self.state.first_ms or sample.ts_ms
        return [
            self.finding(
                onset,
                f"car stopped between floors (position {self.last_position:.2f}) with doors "
                f"closed for {(sample.ts_ms - onset) / 1000:.0f} s: possible entrapment",
                {
                    "source": "telemetry",
                    "metric": "position_floor",
                    "value": self.last_position,
                    "off_landing_floor": round(off_landing, 3),
                    "stopped_s": (sample.ts_ms - onset) / 1000,
                    "threshold_s": self.state.hold_ms / 1000,
                },
                key="entrapment",
                params={
                    "position": self.last_position or 0.0,
                    "stopped_s": (sample.ts_ms - onset) / 1000,
                },
            )
        ]

    def on_event(self, event: Event) -> list[Finding]:
        if event.event != "entrapment":
            return []
        self.heard = True
        if self.state.fired:
            return []  # the same episode, already reported
        self.state.fired = True
        self.state.first_ms = event.ts_ms
        return [
            self.finding(
                event.ts_ms,
                "controller reports an entrapment",
                {"source": "event", "event": event.event, "data": dict(event.data)},
                key="entrapment_event",
            )
        ]

    def fault_active(self) -> bool | None:
        if not self.heard:
            return None
        return self.state.active
