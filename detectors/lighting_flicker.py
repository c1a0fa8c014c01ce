"""Lighting flicker: a failing LED driver, an end-of-life fluorescent tube or starter, or a
loose connection makes the light pulse. Flicker gives headaches and eye strain, hides
moving hazards in garages and stairwells, and announces the failure to come.

Only a settled, switched-on circuit is judged: after a switch-on (or the first sample
heard on) the lamps warm up (street lighting ramps from a third to full power over about
ten minutes) and the current is not judged for `settle_s`. Off samples reset the window,
and so does a gap in the samples (`detectors.cadence`): a window never joins two sides of
a silence.

Score: the sample-to-sample jitter of the current relative to its level, over the last
`window_s` (at most `max_samples` samples): 1.4826 x MAD of the first differences /
sqrt(2) / median current. Working on differences makes it blind to what a schedule does
on purpose: a dimming step is one large difference (the MAD ignores it), a slow ramp is
differences of one size (the MAD around their median is 0). Flicker makes every
difference large. A window is judged once
it holds `min_samples` samples; at a cadence that cannot give that many within
`window_s` (one sample every ten minutes) flicker is not observable and nothing is judged.

Learning: the circuit's own jitter, the median score of its first `learn_s` of judged
time (some drivers are noisier than others); a circuit already past `min_cv` while learnt
is flickering, not noisy, and is judged against `min_cv` instead of learnt as normal.
Decision: the score is above `max(min_cv, rel_factor x learnt)` for `hold_s` (and
`persist` judgements); re-armed once below half that limit for `clear_s`.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections import deque
from typing import ClassVar

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.rolling import median_of

_MAX = sys.float_info.max  # a float within +-_MAX is finite


class FlickerConfig(DetectorConfig):
    window_s: float = 600.0
    max_samples: int = Field(
        30, ge=1
    )  # the latest this many of the window (bounded work per sample)
    min_samples: int = 8
    settle_s: float = 900.0  # after a switch-on, a gap or the first sample: warm-up
    learn_s: float = 300.0
    min_cv: float = 0.10
    rel_factor: float = 4.0
    hold_s: float = 60.0
    persist: int = 5
    clear_s: float = 300.0
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 30.0


class FlickerDetector(Detector):
    name: ClassVar[str] = "lighting_flicker"
    version: ClassVar[str] = "2"
    kinds: ClassVar[frozenset[str]] = frozenset({"lighting"})
    fault_type: ClassVar[str] = "flicker"
    severity: ClassVar[Severity] = Severity.MINOR

    Config: ClassVar[type[FlickerConfig]] = FlickerConfig
    config: FlickerConfig

    def __init__(self, device: DeviceRef, config: FlickerConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.window_ms = int(c.window_s * 1000)
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)
        self.recent: deque[tuple[int, float]] = deque(maxlen=c.max_samples)
        self.learning: list[float] = []
        self.learn_since_ms: int | None = None
        self.decider = Sustained(int(c.hold_s * 1000), int(c.clear_s * 1000), c.persist)
        self.baseline_cv: float | None = None
        self.on_since_ms: int | None = None
        self.last_score: float | None = None

    @property
    def limit(self) -> float:
        assert self.baseline_cv is not None
        return max(self.config.min_cv, self.config.rel_factor * self.baseline_cv)

    def relearn(self, now_ms: int) -> None:
        """A new driver or lamps: learn the circuit's jitter again."""
        self.baseline_cv = None
        self.learning = []
        self.learn_since_ms = None
        self.decider = Sustained(
            int(self.config.hold_s * 1000), int(self.config.clear_s * 1000), self.config.persist
        )

    def score(self, now_ms: int) -> float | None:
        """The relative jitter of the settled on-state current over the window (None until
        the baseline is learnt, or while the circuit is off or settling)."""
        return None if self.baseline_cv is None else self.last_score

    def _jitter(self) -> float | None:
        if len(self.recent) < self.config.min_samples:
            return None
        values = [v for _, v in self.recent]
        level = median_of(values)
        if level <= 0:
            return None
        diffs = [b - a for a, b in itertools.pairwise(values)]
        centre = median_of(diffs)
        mad = median_of([abs(d - centre) for d in diffs])
        return 1.4826 * mad / math.sqrt(2) / level

    def update(self, sample: Sample) -> list[Finding]:
        """The metric reads inline: 0.86 -> 0.79 µs a sample (bench devices replayed
        interleaved, CPU time, median of three runs)."""
        metrics = sample.metrics
        on = metrics.get("on")
        # as `number`, whose answer for a finite float is the float itself (read even
        # when `on` is not a boolean, as before: `number` may raise on a huge int)
        current = metrics.get("current_a")
        if type(current) is not float or not -_MAX <= current <= _MAX:
            current = number(metrics, "current_a")
        if type(on) is not bool or current is None:  # as `flag`: only a boolean counts
            return []
        ts = sample.ts_ms
        gap = self.cadence.observe(ts)
        if not on:
            self.on_since_ms = None
            self.recent.clear()
            self.last_score = None
            return []
        if self.on_since_ms is None or gap:
            self.on_since_ms = ts
            self.recent.clear()
            self.last_score = None
        if ts - self.on_since_ms < self.config.settle_s * 1000:
            return []
        self.recent.append((ts, current))
        while self.recent and ts - self.recent[0][0] > self.window_ms:
            self.recent.popleft()
        cv = self._jitter()
        self.last_score = cv
        if cv is None:
            return []
        if self.baseline_cv is None:
            if self.learn_since_ms is None:
                self.learn_since_ms = ts
            self.learning.append(cv)
            if ts - self.learn_since_ms >= self.config.learn_s * 1000:
                learnt = median_of(self.learning)
                # A circuit past the absolute limit while learnt is flickering already, not
                # a noisy driver: it is not learnt as normal, the absolute limit judges it.
                c = self.config
                self.baseline_cv = learnt if learnt < c.min_cv else c.min_cv / c.rel_factor
                self.learning = []
            return []
        limit = self.limit
        if not self.decider.observe(cv > limit, ts, cv < 0.5 * limit):
            return []
        return [
            self.finding(
                self.decider.first_ms or ts,
                f"lamp current jumps {cv:.0%} from reading to reading while on and settled, "
                f"normally {self.baseline_cv:.1%} (limit {limit:.0%}): flicker",
                {
                    "metric": "current_a",
                    "value": round(cv, 4),
                    "baseline": round(self.baseline_cv, 4),
                    "threshold": round(limit, 4),
                    "window": [round(v, 4) for _, v in self.recent][-60:],
                },
                key="flicker",
                params={"jump": cv, "baseline": self.baseline_cv, "limit": limit},
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline_cv is None:
            return None
        return self.decider.active
