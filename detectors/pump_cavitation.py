"""Pump cavitation: the pressure at the pump inlet falls below the liquid's vapour
pressure (a clogged strainer, a throttled suction valve, a low sump, hot liquid), vapour
bubbles form and collapse on the impeller. The collapse hammers the impeller (pitting,
erosion, seal and bearing damage) and the pump delivers less and unsteadily.

The signature combines signals, which is what separates it from other pump faults:
vibration rises (the bubbles' implosions) *and* the discharge pressure drops or turns
erratic, while liquid still flows (no flow at all is dry running, not cavitation; a
worn bearing raises vibration with a steady pressure). Learning: the levels of both
accelerometers, of the pressure and of the flow, and the pressure's normal spread, over
the first `warmup_s` of settled running samples (at least `min_warmup_samples`). Score,
over the settled running samples of the last `window_s` (at least `min_window_samples`):
`min(vibration ratio / vib_ratio, max(pressure drop / drop_sigmas, pressure spread /
erratic_ratio))`, with the vibration ratio the larger of the two accelerometers' median
over their learnt level, the drop the pressure median's fall in learnt spreads and the
spread the window's MAD over the learnt spread. Decision: a score of at least 1 (both
conditions) held for `hold_s` on at least `min_samples` samples; re-armed below 0.7 held
for `clear_s` on `clear_samples`. Stopped samples and the first `settle_s` after a start
are ignored; durations become sample counts through the device's rhythm
(`detectors.pump_timing`), and a gap empties the window without forgetting the learnt
levels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Event, Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag, number
from detectors.decision import Sustained
from detectors.pump_timing import PumpClock, sized, warmed_up
from detectors.rolling import mad_sigma_of, median_of, robust_spread

ACCELEROMETERS = ("accelerometer1_rms_g", "accelerometer2_rms_g")


class CavitationConfig(DetectorConfig):
    warmup_s: float = Field(120.0, gt=0)
    min_warmup_samples: int = Field(5, ge=2)
    window_s: float = Field(30.0, gt=0)
    min_window_samples: int = Field(3, ge=1)
    vib_ratio: float = 1.25  # vibration x the learnt level
    drop_sigmas: float = 4.0  # pressure drop in learnt spreads
    erratic_ratio: float = 3.0  # pressure spread x the learnt one
    min_flow_ratio: float = 0.5  # below: dry running, not cavitation
    clear_score: float = 0.7  # a score below this re-arms
    hold_s: float = 8.0  # the condition held this long ...
    min_samples: int = Field(3, ge=1)  # ... on at least this many samples
    clear_s: float = 28.0
    clear_samples: int = Field(3, ge=1)
    settle_s: float = 30.0
    expected_interval_s: float | None = None  # the device's reporting interval; else learnt


class CavitationDetector(Detector):
    name: ClassVar[str] = "pump_cavitation"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"pump"})
    fault_type: ClassVar[str] = "cavitation"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[CavitationConfig]] = CavitationConfig
    config: CavitationConfig

    def __init__(self, device: DeviceRef, config: CavitationConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.vib_ratio = c.vib_ratio
        self.drop_sigmas = c.drop_sigmas
        self.erratic_ratio = c.erratic_ratio
        self.min_flow_ratio = c.min_flow_ratio
        self.persistence = Sustained(
            int(c.hold_s * 1000), int(c.clear_s * 1000), c.min_samples, c.clear_samples
        )
        self.running = PumpClock(c.settle_s, c.expected_interval_s)
        self._warm: list[tuple[float, float, float, float]] = []
        self._warm_first_ms = 0
        self._recent: deque[tuple[float, float, float, float]] = deque(maxlen=c.min_window_samples)
        # learnt: accelerometer 1 and 2 levels, pressure level and spread, flow level
        self.base: tuple[float, float, float, float, float] | None = None
        self.parts: dict[str, float] = {}

    def _values(self, sample: Sample) -> tuple[float, float, float, float] | None:
        m = sample.metrics
        acc1, acc2 = number(m, ACCELEROMETERS[0]), number(m, ACCELEROMETERS[1])
        pressure, flow = number(m, "pressure_bar"), number(m, "flow_rate_lpm")
        if acc1 is None or pressure is None:
            return None
        return acc1, -1.0 if acc2 is None else acc2, pressure, -1.0 if flow is None else flow

    def _fit(self) -> None:
        acc1 = median_of(v[0] for v in self._warm)
        acc2 = median_of(v[1] for v in self._warm)
        pressure = median_of(v[2] for v in self._warm)
        spread = robust_spread((v[2] for v in self._warm), pressure)
        flow = median_of(v[3] for v in self._warm)
        self.base = (acc1, acc2, pressure, spread, flow)
        self._warm.clear()

    def score(self, now_ms: int) -> float | None:
        """min(vibration evidence, pressure evidence), each 1 at its limit (None until
        the warm-up is over and the window full)."""
        if self.base is None or len(self._recent) < (self._recent.maxlen or 0):
            return None
        return self._score()

    def _score(self) -> float:
        """The score, with its parts kept in `parts` for the evidence."""
        assert self.base is not None
        acc1, acc2, _pressure, _spread, flow = self.base
        # One transposition in C instead of a generator per column: this runs on every
        # sample of every running pump.
        acc1s, acc2s, pressures, flows = zip(*self._recent, strict=True)
        ratios = [median_of(acc1s) / acc1 if acc1 > 0 else 1.0]
        if acc2 > 0 and min(acc2s) >= 0:
            ratios.append(median_of(acc2s) / acc2)
        vib = max(ratios)
        drop, erratic = self._pressure_terms(pressures)
        self.parts = {
            "vibration_ratio": round(vib, 4),
            "pressure_drop_sigmas": round(drop, 3),
            "pressure_spread_ratio": round(erratic, 3),
        }
        flowing = True
        if flow > 0 and min(flows) >= 0:
            flow_ratio = median_of(flows) / flow
            self.parts["flow_ratio"] = round(flow_ratio, 4)
            flowing = flow_ratio >= self.min_flow_ratio
        if not flowing:
            return 0.0  # no liquid through the pump: dry running, not cavitation
        return min(vib / self.vib_ratio, self._pressure_score(drop, erratic))

    def _pressure_terms(self, pressures: Sequence[float]) -> tuple[float, float]:
        """The pressure median's drop in learnt spreads, and the window's spread over
        the learnt one."""
        assert self.base is not None
        pressure, spread = self.base[2], self.base[3]
        pressure_now = median_of(pressures)
        drop = (pressure - pressure_now) / spread
        return drop, mad_sigma_of(pressures, pressure_now) / spread

    def _pressure_score(self, drop: float, erratic: float) -> float:
        """The pressure's drop or spread, whichever is nearer its limit (1 at the limit)."""
        return max(drop / self.drop_sigmas, erratic / self.erratic_ratio)

    def on_event(self, event: Event) -> list[Finding]:
        if event.event == "start":
            self.running.restart(event.ts_ms)
        return []

    def update(self, sample: Sample) -> list[Finding]:
        running = flag(sample.metrics, "running")
        values = self._values(sample)
        if running is None or values is None:
            return []
        if not self.running.observe(running, sample.ts_ms):
            return []
        c = self.config
        if self.base is None:
            if not self._warm:
                self._warm_first_ms = sample.ts_ms
            self._warm.append(values)
            span = sample.ts_ms - self._warm_first_ms
            if warmed_up(len(self._warm), span, self.running, c.warmup_s, c.min_warmup_samples):
                self._fit()
            return []
        if self.running.gap:  # a gap: the window starts afresh, the levels are kept
            self._recent.clear()
            self.persistence.since_ms = None
        size = self.running.samples_for(c.window_s, c.min_window_samples)
        self._recent = sized(self._recent, size)
        self._recent.append(values)
        if len(self._recent) < (self._recent.maxlen or 0):
            return []
        pressure_terms = self._pressure_terms([v[2] for v in self._recent])
        if self._pressure_score(*pressure_terms) < c.clear_score:
            # The score is at most the pressure evidence, so it is in the clear band
            # whatever the vibration does: the decision needs no more medians. Nearly
            # every sample of a healthy pump ends here.
            self.persistence.observe(False, sample.ts_ms, True)
            return []
        score = self._score()
        if not self.persistence.observe(score >= 1.0, sample.ts_ms, score < c.clear_score):
            return []
        acc1, _acc2, pressure, spread, _flow = self.base
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"vibration x{self.parts['vibration_ratio']:.2f} with the pressure "
                f"{self.parts['pressure_drop_sigmas']:.1f} spreads down and "
                f"x{self.parts['pressure_spread_ratio']:.1f} as erratic: cavitation",
                {
                    "metric": "pressure_bar",
                    "score": round(score, 3),
                    "threshold": 1.0,
                    **self.parts,
                    "baseline_vibration_g": round(acc1, 5),
                    "baseline_pressure_bar": round(pressure, 5),
                    "baseline_pressure_spread": round(spread, 5),
                },
                key="cavitation",
                params={
                    "vibration_ratio": self.parts["vibration_ratio"],
                    "pressure_drop": self.parts["pressure_drop_sigmas"],
                    "spread_ratio": self.parts["pressure_spread_ratio"],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.base is None or len(self._recent) < (self._recent.maxlen or 0):
            return None
        return self.persistence.active
