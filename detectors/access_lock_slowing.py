"""Lock actuation slowing: the electric strike, magnetic lock or motor lock takes longer
and longer to release or throw. A weakening solenoid, a failing power supply, a bolt
rubbing in a misaligned strike plate or a door pulled by wind or stack pressure. Left
alone, the lock fails to release (people locked out or in) or fails to latch (the door
is left unsecured).

Readings outside the plausible 5 ms .. 10 s are left to `out_of_range` (a bridged
position switch or a broken timer, not a slow lock). Score: the rolling median of
`lock_actuation_ms` over the last `window` samples minus
the lock's own baseline (learnt over the first `warmup` samples). Decision: above
`baseline + max(min_margin_ms, rel_margin x baseline)` for `persist` samples in a row;
re-armed once below the middle of that margin for `clear_needed` samples (hysteresis).
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from detectors.base import Detector, Finding, Severity, number
from detectors.generic_out_of_range import plausible
from detectors.rolling import Persistence, median_of
from gateway.contract import DeviceRef
from gateway.payload import Sample


class LockSlowingDetector(Detector):
    name: ClassVar[str] = "access_lock_slowing"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"access"})
    fault_type: ClassVar[str] = "lock_slowing"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "lock_actuation_ms"

    def __init__(
        self,
        device: DeviceRef,
        warmup: int = 60,
        window: int = 15,
        persist: int = 5,
        clear_needed: int = 30,
        min_margin_ms: float = 50.0,
        rel_margin: float = 0.5,
    ) -> None:
        super().__init__(device)
        self.warmup: deque[float] = deque(maxlen=warmup)
        self.recent: deque[float] = deque(maxlen=window)
        self.persistence = Persistence(persist, clear_needed)
        self.min_margin_ms = min_margin_ms
        self.rel_margin = rel_margin
        self.baseline: float | None = None

    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline + max(self.min_margin_ms, self.rel_margin * self.baseline)

    def score(self) -> float:
        """Median actuation time over the window minus the baseline, in ms."""
        return median_of(self.recent) - (self.baseline or 0.0) if self.recent else 0.0

    def update(self, sample: Sample) -> list[Finding]:
        value = number(sample.metrics, self.metric)
        if value is None or not plausible(self.device.kind, self.metric, value):
            return []  # implausible readings are out_of_range's finding
        if self.baseline is None:
            self.warmup.append(value)
            if len(self.warmup) == self.warmup.maxlen:
                self.baseline = median_of(self.warmup)
                self.warmup.clear()
            return []
        self.recent.append(value)
        if len(self.recent) < (self.recent.maxlen or 0):
            return []
        median, limit = median_of(self.recent), self.limit()
        clear = median < limit - 0.5 * (limit - self.baseline)
        if not self.persistence.observe(median > limit, sample.ts_ms, clear):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"lock actuation {median:.0f} ms, baseline {self.baseline:.0f} ms "
                f"(limit {limit:.0f} ms)",
                {
                    "metric": self.metric,
                    "value": round(median, 1),
                    "baseline": round(self.baseline, 1),
                    "threshold": round(limit, 1),
                    "window": [round(v, 1) for v in self.recent],
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline is None or len(self.recent) < (self.recent.maxlen or 0):
            return None
        return self.persistence.active
