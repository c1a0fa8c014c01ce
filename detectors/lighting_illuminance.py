"""Illuminance below standard: the circuit is on, but the area it lights is darker than
its standard (EN 12464-1 / EN 12464-2: 75 lx in a parking garage, 100 lx in corridors,
500 lx at office desks). Lumen depreciation of ageing lamps, soiled diffusers, failed
lamps or a luminaire knocked out of aim leave people without the light they need to see
kerbs, steps and cars: a safety and compliance issue, whatever the cause.

Score: the rolling median of the measured illuminance over the last `window` on-samples
(daylight counts: an area that daylight lights well enough is not below standard).
Decision: below `standard_lux` (per site and area; 75 lx by default, the lowest indoor
standard) for `persist` on-samples in a row; re-armed once above `standard_lux x
clear_ratio` for `clear_needed` on-samples. On-samples within `warm_up_s` of a switch-on
are not scored (discharge lamps take minutes to reach full output). Nothing is learnt.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag, number
from detectors.decision import Hysteresis
from detectors.rolling import median_of


class IlluminanceLowConfig(DetectorConfig):
    standard_lux: float = 75.0  # the lighting standard for the space (EN 12464-1)
    window: int = 15
    persist: int = 5
    clear_needed: int = 15
    clear_ratio: float = 1.2  # re-armed above this x the standard
    warm_up_s: float = 120.0  # after switch-on, lamps run up to full output


class IlluminanceLowDetector(Detector):
    name: ClassVar[str] = "lighting_illuminance_low"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "illuminance_low"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[IlluminanceLowConfig]] = IlluminanceLowConfig
    config: IlluminanceLowConfig

    def __init__(self, device: DeviceRef, config: IlluminanceLowConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.standard_lux = c.standard_lux
        self.recent: deque[float] = deque(maxlen=c.window)
        self.persistence = Hysteresis(c.persist, c.clear_needed, rising=False)
        self.clear_ratio = c.clear_ratio
        self.warm_up_ms = int(c.warm_up_s * 1000)
        self.on_since_ms: int | None = None
        self.was_on: bool | None = None

    def score(self, now_ms: int) -> float | None:
        """Median illuminance over the window, in lx (None until it is full)."""
        return median_of(self.recent) if len(self.recent) == self.recent.maxlen else None

    def update(self, sample: Sample) -> list[Finding]:
        on = flag(sample.metrics, "on")
        lux = number(sample.metrics, "illuminance_lux")
        if on is None or lux is None:
            return []
        if on and self.was_on is False:
            self.on_since_ms = sample.ts_ms
        self.was_on = on
        if not on:
            return []
        if self.on_since_ms is not None and sample.ts_ms - self.on_since_ms < self.warm_up_ms:
            return []
        self.recent.append(lux)
        if len(self.recent) < (self.recent.maxlen or 0):
            return []
        median = median_of(self.recent)
        clear_above = self.standard_lux * self.clear_ratio
        if not self.persistence.decide(median, self.standard_lux, clear_above, sample.ts_ms):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"lights on but only {median:.0f} lx, below the {self.standard_lux:.0f} lx "
                "standard",
                {
                    "metric": "illuminance_lux",
                    "value": round(median, 1),
                    "threshold": self.standard_lux,
                    "window": [round(v, 1) for v in self.recent],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if len(self.recent) < (self.recent.maxlen or 0):
            return None
        return self.persistence.active
