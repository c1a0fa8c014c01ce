"""Reading out of its plausible range, for every kind: a value the contract accepts (its
ranges are wide enough for any installation) but that no healthy device of this kind
produces. Either the sensor is broken or miscalibrated (an accelerometer whose RMS
includes gravity, a lock timer reading 0, a voltage transducer on the wrong ratio), or
the equipment really is in an extreme state (a lost neutral putting 265 V on a 230 V
circuit, an overheating motor). Either way somebody has to look.

Bands, per kind (`PLAUSIBLE`): mains voltage 200-250 V (EN 50160 allows 230 V +- 10 %
over ten-minute means), judged only while the circuit or motor is on (a meter behind an
open contactor reads 0 V); car vibration up to 5 m/s2 RMS (ride quality is a few tenths);
elevator speeds up to 12 m/s; door times of at least 0.5 s (no door moves faster);
motor temperature -30..130 degC (insulation class F); water temperature 0..95 degC;
a lock actuation of 5 ms .. 10 s.

Score: per signal, the median of its last `window` readings (one glitched reading, or
two, cannot move it). Decision: a median outside the band for `persist` samples in a
row; re-armed once every median is back inside the narrower clear band for
`clear_needed` samples (hysteresis: a reading hovering at an edge fires once). Nothing is
learnt.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Final

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Persistence
from detectors.generic_stuck import gate_open
from detectors.rolling import median_of


@dataclass(frozen=True, slots=True)
class Band:
    metric: str
    low: float
    high: float
    clear_low: float  # back inside [clear_low, clear_high] re-arms
    clear_high: float
    gate: str | None = None  # as in generic_stuck: None = always a live measurement


PLAUSIBLE: Final[dict[str, tuple[Band, ...]]] = {
    "elevator": (
        Band("car_vibration_rms_ms2", 0.0, 5.0, 0.0, 4.0),
        Band("speed_ms", -12.0, 12.0, -11.0, 11.0),
        Band("door_open_time_s", 0.5, 120.0, 1.0, 110.0),
        Band("door_close_time_s", 0.5, 120.0, 1.0, 110.0),
    ),
    "lighting": (Band("voltage_v", 200.0, 250.0, 205.0, 245.0, "on"),),
    "pump": (
        Band("voltage_v", 200.0, 250.0, 205.0, 245.0, "running"),
        Band("motor_temperature_c", -30.0, 130.0, -25.0, 120.0),
        Band("fluid_temperature_c", 0.0, 95.0, 2.0, 90.0),
    ),
    "access": (Band("lock_actuation_ms", 5.0, 10_000.0, 20.0, 5_000.0),),
}


# (kind, metric) -> its band: the first one listed, as a scan of `PLAUSIBLE` finds it
_BANDS: Final[dict[tuple[str, str], Band]] = {}
for _kind, _bands in PLAUSIBLE.items():
    for _band in _bands:
        _BANDS.setdefault((_kind, _band.metric), _band)


def plausible(kind: str, metric: str, value: float) -> bool:
    """Inside the kind's plausible band (True for a metric without one). Other detectors
    leave implausible readings to this one: one broken sensor, one ticket."""
    band = _BANDS.get((kind, metric))
    return band is None or band.low <= value <= band.high


class OutOfRangeConfig(DetectorConfig):
    window: int = Field(5, ge=1)
    persist: int = 3
    clear_needed: int = 5


class OutOfRangeDetector(Detector):
    name: ClassVar[str] = "generic_out_of_range"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator", "lighting", "pump", "access"})
    fault_type: ClassVar[str] = "out_of_range"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[OutOfRangeConfig]] = OutOfRangeConfig
    config: OutOfRangeConfig

    def __init__(self, device: DeviceRef, config: OutOfRangeConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.bands = PLAUSIBLE.get(device.kind, ())
        self.recent: dict[str, deque[float]] = {
            band.metric: deque(maxlen=c.window) for band in self.bands
        }
        # readings outside the clear band in each window: while none is, the median is
        # inside and need not be computed (nearly every sample of a healthy device)
        self.strays = dict.fromkeys(self.recent, 0)
        self.persistence = Persistence(c.persist, c.clear_needed)
        self.heard = False
        self.outside: tuple[str, float, float, float] | None = None

    def score(self, now_ms: int) -> float | None:
        """How far the worst median lies outside its band, as a share of the band's width
        (0 inside; None before a judged reading)."""
        if not self.heard:
            return None
        worst = 0.0
        for band in self.bands:
            window = self.recent[band.metric]
            if len(window) == window.maxlen:
                median = median_of(window)
                width = band.high - band.low
                worst = max(worst, (band.low - median) / width, (median - band.high) / width)
        return worst

    def update(self, sample: Sample) -> list[Finding]:
        judged = False
        outside: list[tuple[str, float, float, float]] = []
        inside = True
        metrics = sample.metrics
        strays, recent = self.strays, self.recent
        for band in self.bands:
            metric = band.metric
            window = recent[metric]
            value = metrics.get(metric)
            if type(value) is not float or not -math.inf < value < math.inf:
                value = number(metrics, metric)  # the common case stays inline
                if value is None:
                    continue
            gate = band.gate
            if gate is not None:
                state = metrics.get(gate)
                if state is not True and (state is False or not gate_open(metrics, gate)):
                    continue
            full = len(window) == window.maxlen
            if full and not band.clear_low <= window[0] <= band.clear_high:
                strays[metric] -= 1
            window.append(value)
            if not band.clear_low <= value <= band.clear_high:
                strays[metric] += 1
            judged = True
            if not strays[metric] or not (full or len(window) == window.maxlen):
                continue  # every reading inside the clear band: so is the median
            median = median_of(window)
            if not band.low <= median <= band.high:
                outside.append((metric, median, band.low, band.high))
            if not band.clear_low <= median <= band.clear_high:
                inside = False
        if not judged:
            return []
        self.heard = True
        if outside:
            self.outside = outside[0]
        if not self.persistence.observe(bool(outside), sample.ts_ms, inside):
            return []
        assert self.outside is not None
        metric, median, low, high = self.outside
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"{metric} reads {median:g}, outside the plausible {low:g}..{high:g} for "
                f"{_a(self.device.kind)}: sensor fault or extreme condition",
                {
                    "metric": metric,
                    "value": median,
                    "low": low,
                    "high": high,
                    "window": list(self.recent[metric]),
                },
                key="out_of_range",
                params={
                    "metric": metric,
                    "value": median,
                    "low": low,
                    "high": high,
                    "kind": self.device.kind,
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if not self.heard:
            return None
        return self.persistence.active


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"
