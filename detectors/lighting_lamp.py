"""Lamp or driver failure: a circuit that is switched on but draws far less current
than it normally does has dead lamps or a failed driver (dark corridors, garage
blind spots).

Everything is in time (`detectors.windows`, `detectors.cadence`), so one configuration
serves a circuit reporting every second and one reporting every ten minutes:

- Settling: lamps warm up after a switch-on (street lighting runs from a seventh to full
  power over about ten minutes), so the `settle_s` after an off-to-on change, or after a
  gap, are neither learnt nor judged.
- Learning: the circuit's expected draw is the median of its settled on-state current
  over `learn_s` (at least `min_learn_samples` on-samples). Re-learnt only by
  `relearn()` (new lamps or a new driver, after a verified repair).
- Score: the median on-state current of the last `window_s` (at least
  `min_window_samples`) over the expected draw.
- Decision: below `min_ratio` for `hold_s` and `persist` on-samples; re-armed only above
  the middle of the gap back to normal for `clear_s` and `clear_needed` on-samples
  (hysteresis: an intermittent driver fault stays one finding). Part-night dimming (to
  about three quarters) stays above the limit. Off samples neither score nor reset
  anything; a gap restarts the window and the timing, never what was learnt.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.windows import TimedWarmup, TimedWindow, timing_restarts

MAX_LEARN_SAMPLES = 200  # the learning keeps at most this many readings, evenly spread


class LampFailureConfig(DetectorConfig):
    settle_s: float = 900.0  # after a switch-on or a gap: lamps warm up
    learn_s: float = 60.0
    min_learn_samples: int = 12
    window_s: float = 10.0
    min_window_samples: int = Field(5, ge=1)
    max_window_samples: int = Field(60, ge=1)
    hold_s: float = 8.0
    persist: int = 5
    clear_s: float = 40.0
    clear_needed: int = 20
    min_ratio: float = 0.6  # of the learnt current
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 30.0


class LampFailureDetector(Detector):
    name: ClassVar[str] = "lighting_lamp_failure"
    version: ClassVar[str] = "2"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "lamp_failure"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[LampFailureConfig]] = LampFailureConfig
    config: LampFailureConfig

    def __init__(self, device: DeviceRef, config: LampFailureConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)
        self.warmup = TimedWarmup(c.learn_s, c.min_learn_samples, MAX_LEARN_SAMPLES)
        self.recent = TimedWindow(c.window_s, c.min_window_samples, c.max_window_samples)
        self.decider = self._decider()
        self.min_ratio = c.min_ratio
        self.settle_ms = int(c.settle_s * 1000)
        self.expected_a: float | None = None
        self.was_on: bool | None = None
        self.on_since_ms: int | None = None  # switched on (or heard again after a gap)

    def _decider(self) -> Sustained:
        c = self.config
        return Sustained(int(c.hold_s * 1000), int(c.clear_s * 1000), c.persist, c.clear_needed)

    def relearn(self, now_ms: int) -> None:
        """New lamps or a new driver: learn the circuit's draw again."""
        self.expected_a = None
        self.warmup.restart()
        self.recent.clear()
        self.decider = self._decider()

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
        if not isinstance(on, bool) or current is None:
            return []
        ts = sample.ts_ms
        if self.cadence.observe(ts):
            self.recent.clear()
            timing_restarts(self.decider)
            self.on_since_ms = ts  # the lamps may have been off meanwhile
            if self.expected_a is None:
                self.warmup.restart()
        switched_on = on and self.was_on is False
        self.was_on = on
        if not on:
            return []
        if switched_on:
            self.on_since_ms = ts
        if self.on_since_ms is not None and ts - self.on_since_ms < self.settle_ms:
            return []
        if self.expected_a is None:
            self.expected_a = self.warmup.add(ts, current, self.cadence)
            return []
        if self.expected_a <= 0:
            return []
        recent = self.recent
        recent.fit(self.cadence)
        recent.add(current)
        if not recent.full:
            return []
        clear_above = self.min_ratio + 0.5 * (1 - self.min_ratio)
        lowest = min(recent.values) / self.expected_a
        if lowest > clear_above:
            # The median is at least the lowest reading: clear, without sorting the
            # window (a healthy circuit, nearly every sample).
            self.decider.observe(False, ts, True)
            return []
        ratio = self._ratio()
        if not self.decider.observe(ratio < self.min_ratio, ts, ratio > clear_above):
            return []
        return [
            self.finding(
                self.decider.first_ms or ts,
                f"circuit on but drawing {ratio:.0%} of its usual {self.expected_a:.2f} A",
                {
                    "metric": "current_a",
                    "value": round(self.recent.median(), 4),
                    "expected": round(self.expected_a, 4),
                    "ratio": round(ratio, 4),
                    "threshold": self.min_ratio,
                    "window": list(self.recent.values),
                },
                key="lamp_failure",
                params={"share": ratio, "expected_a": self.expected_a},
            )
        ]

    def fault_active(self) -> bool | None:
        if self.expected_a is None or not self.recent.full:
            return None
        return self.decider.active
