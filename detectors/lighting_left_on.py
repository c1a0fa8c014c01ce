"""Lights left on: a circuit lit when nobody needs it wastes energy (and lamp life). A
failed time switch or photocell, a welded contactor, a manual override left on or a
building management schedule lost after a controller restart keep the lights burning
through the hours the circuit is normally dark, or in bright daylight. A minor finding:
money and carbon, not safety.

Learning: for each hour of the day, the share of time the circuit is lit (on and
drawing current), with a memory of about a week (each hour's statistics decay with a
time constant of `memory_h` hours of that hour's own observations, so a changed
schedule is followed in days). The schedule is ready once every hour has been observed
for `min_seen_s`; a circuit that has never shown a regular lit hour (lit more than half
of the time) has no schedule to depart from and is not judged. An hour is a learnt dark
hour when the circuit was lit at most `off_share` of it, and so were the hours on either
side (a schedule that shifts by up to an hour, with the seasons or by hand, is not a
fault).

Score: how long the circuit has been lit while it should be dark. Decision: lit through
learnt dark hours, or while the measured illuminance is above `bright_lux` (daylight
alone is then several times any indoor standard), continuously for `hold_s`; re-armed
once the circuit has been seen dark on `clear_samples` samples. While the condition
holds or a finding stands, nothing is learnt, so a circuit stuck on does not teach
itself a new schedule; nor is light ever learnt into an hour already learnt dark (so a
schedule moved more than an hour earlier keeps being reported until it is re-learnt from
scratch: a new detector state).
"""

from __future__ import annotations

import math
from math import exp as _exp
from typing import ClassVar, Final

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Sustained

HOUR_MS = 3_600_000
_INF: Final = math.inf


class LightsLeftOnConfig(DetectorConfig):
    hold_s: float = 1800.0
    min_seen_s: float = 1800.0  # observed time per hour of day before it is judged
    memory_h: float = 7.0  # the learnt schedule forgets with this time constant
    off_share: float = 0.05  # an hour lit less than this share is a dark hour
    bright_lux: float = 2000.0
    max_gap_s: float = 600.0
    clear_samples: int = 3


class LightsLeftOnDetector(Detector):
    name: ClassVar[str] = "lighting_left_on"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "lights_left_on"
    severity: ClassVar[Severity] = Severity.MINOR

    Config: ClassVar[type[LightsLeftOnConfig]] = LightsLeftOnConfig
    config: LightsLeftOnConfig

    def __init__(self, device: DeviceRef, config: LightsLeftOnConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.state = Sustained(int(c.hold_s * 1000), 0, 2, c.clear_samples)
        self.min_seen_s = c.min_seen_s
        self.memory_s = c.memory_h * 3600
        self.off_share = c.off_share
        self.bright_lux = c.bright_lux
        self.max_gap_ms = int(c.max_gap_s * 1000)
        self.lit_s = [0.0] * 24
        self.seen_s = [0.0] * 24
        self.last_ts: int | None = None
        self.reason = ""
        self._ready = False
        # (minute, a learnt dark hour with dark neighbours, light here would be suspicious,
        # the schedule learnt)
        self._cache: tuple[int, bool, bool, bool] | None = None

    @property
    def ready(self) -> bool:
        # an hour's observed time only grows (towards `memory_h`): once ready, always ready
        if not self._ready:
            self._ready = min(self.seen_s) >= self.min_seen_s
        return self._ready

    def share(self, hour: int) -> float:
        """Learnt share of the hour during which the circuit is lit."""
        seen = self.seen_s[hour % 24]
        return self.lit_s[hour % 24] / seen if seen > 0 else 0.0

    @property
    def established(self) -> bool:
        """The circuit has shown a regular lit hour: there is a schedule to depart from."""
        # `max(share(h) for h in range(24)) >= 0.5`, stopping at the first such hour (the
        # shares are finite)
        for lit, seen in zip(self.lit_s, self.seen_s, strict=True):
            if (lit / seen if seen > 0 else 0.0) >= 0.5:
                return True
        return False

    def learnt_dark(self, hour: int) -> bool:
        return self.seen_s[hour % 24] >= self.min_seen_s and self.share(hour) <= self.off_share

    def dark_hour(self, hour: int) -> bool:
        """A learnt dark hour, with dark hours on either side."""
        if not self.ready or not self.established:
            return False
        return all(self.learnt_dark(h) for h in (hour - 1, hour, hour + 1))

    def score(self, now_ms: int) -> float | None:
        """Seconds the circuit has been lit while it should be dark (0 when it should not;
        None until the schedule is learnt)."""
        return self.state.held_ms(now_ms) / 1000 if self._ready else None

    def update(self, sample: Sample) -> list[Finding]:
        """Judge one sample. `flag`, `number` and the minute's schedule look-up are written
        out for the common case (the bench samples replayed device by device in turn, CPU
        time: 2.6 to 1.9 µs an update, half of it the minute's look-up)."""
        metrics = sample.metrics
        on = metrics.get("on")
        if on is not True and on is not False:  # `flag`
            return []
        current = metrics.get("current_a")
        if type(current) is not float or not -_INF < current < _INF:  # `number`, inline
            current = number(metrics, "current_a")
            if current is None:
                return []
        lit = on and current > 0
        lux = metrics.get("illuminance_lux")
        if type(lux) is not float or not -_INF < lux < _INF:
            lux = number(metrics, "illuminance_lux")
        ts = sample.ts_ms
        hour = int(ts // HOUR_MS) % 24
        dt_s = 0.0
        last = self.last_ts
        if last is None:
            self.last_ts = ts
        elif ts > last:  # else `last_ts` stays: max(last, ts)
            dt_s = min(ts - last, self.max_gap_ms) / 1000
            self.last_ts = ts
        minute = ts // 60_000  # the schedule moves slowly: judged once a minute
        cache = self._cache
        if cache is None or cache[0] != minute:
            # `guarded` and `dark_hour(hour)` with this hour asked first: `established` is a
            # pass over the 24 hours, and the answer needs it only for a learnt dark hour
            ready = self.ready
            guarded = self.learnt_dark(hour) and self.established
            dark = guarded and ready and self.learnt_dark(hour - 1) and self.learnt_dark(hour + 1)
            cache = self._cache = (minute, dark, guarded, ready)
        _, dark, guarded, ready = cache
        bright = ready and lux is not None and lux >= self.bright_lux
        wasted = lit and (dark or bright)
        self.reason = "learnt dark hours" if dark else "bright daylight" if bright else ""
        state = self.state
        fired = state.observe(wasted, ts, not lit)
        # Light is never learnt into an hour known to be dark: a circuit stuck on must not
        # teach itself, hour by hour, that it is always lit. Darkness is always learnt, so
        # a schedule that starts later or ends earlier is followed; one that starts up to
        # an hour earlier is simply never flagged.
        if not wasted and not (lit and guarded) and dt_s > 0 and not state.active:
            decay = _exp(-dt_s / self.memory_s)
            lit_s, seen_s = self.lit_s, self.seen_s
            lit_s[hour] = lit_s[hour] * decay + (dt_s if lit else 0.0)
            seen_s[hour] = seen_s[hour] * decay + dt_s
        if not fired:
            return []
        onset = state.first_ms or ts
        lit_h = (ts - onset) / HOUR_MS
        return [
            self.finding(
                onset,
                f"lights on for {lit_h:.1f} h in {self.reason} "
                f"(drawing {current:.2f} A): energy wasted",
                {
                    "metric": "on",
                    "reason": self.reason,
                    "value": round(lit_h * 3600, 1),
                    "threshold": self.state.hold_ms / 1000,
                    "current_a": current,
                    "illuminance_lux": lux,
                    "hour_utc": hour,
                    "learnt_lit_share": [round(self.share(h), 3) for h in range(24)],
                },
                key="lights_left_on.dark"
                if self.reason == "learnt dark hours"
                else "lights_left_on.daylight",
                params={"hours": lit_h, "current_a": current},
            )
        ]

    def fault_active(self) -> bool | None:
        if not self.ready:
            return None
        return self.state.active
