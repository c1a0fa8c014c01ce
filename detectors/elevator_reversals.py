"""Elevator door reversals: the doors re-open while closing far more often than they
used to. A dirty or misaligned light curtain, a failing safety edge, a door that drags in
its sill or a worn door operator make the closing doors reverse; each reversal costs a
trip time and, when the detector is at fault, the doors slam into passengers or the car
ends up out of service with its doors unable to close.

Score: reversals per trip over a sliding window of at least `window_trips` trips (the
window is measured in trips, not time: traffic swings tenfold between the morning rush
and the night, a busy minute and a quiet hour then weigh alike). Learning: the first
`warmup_trips` trips give the device's own rate (crowded cars reverse more, so it is
not zero). Decision: the rate is above `max(rel_factor x baseline, baseline +
abs_margin)` on `persist` trip samples in a row; re-armed once it is back below half way
to the baseline for `clear_needed` trip samples (hysteresis).
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.decision import Hysteresis


class DoorReversalConfig(DetectorConfig):
    warmup_trips: int = 200
    window_trips: int = 200
    rel_factor: float = 3.0
    abs_margin: float = 0.15
    persist: int = 3
    clear_needed: int = 10
    max_entries: int = 2_000  # bounded state: samples kept in the window at most


class DoorReversalDetector(Detector):
    name: ClassVar[str] = "elevator_door_reversals"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator"})
    fault_type: ClassVar[str] = "door_reversals"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[DoorReversalConfig]] = DoorReversalConfig
    config: DoorReversalConfig

    def __init__(self, device: DeviceRef, config: DoorReversalConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.warmup_trips = c.warmup_trips
        self.window_trips = c.window_trips
        self.rel_factor = c.rel_factor
        self.abs_margin = c.abs_margin
        self.max_entries = c.max_entries
        self.persistence = Hysteresis(c.persist, c.clear_needed)
        self.baseline: float | None = None
        self._warm_trips = 0
        self._warm_reversals = 0
        self._window: deque[tuple[int, int]] = deque()  # (trips, reversals) per sample
        self._trips = 0
        self._reversals = 0

    @property
    def limit(self) -> float:
        assert self.baseline is not None
        return max(self.rel_factor * self.baseline, self.baseline + self.abs_margin)

    def score(self, now_ms: int) -> float | None:
        """Reversals per trip over the window (None until the warm-up and a full window)."""
        if self.baseline is None or self._trips < self.window_trips:
            return None
        return self._rate()

    def _rate(self) -> float:
        return self._reversals / self._trips if self._trips else 0.0

    def _add(self, trips: int, reversals: int) -> None:
        self._window.append((trips, reversals))
        self._trips += trips
        self._reversals += reversals
        while self._window and (
            self._trips - self._window[0][0] >= self.window_trips
            or len(self._window) > self.max_entries
        ):
            old_trips, old_reversals = self._window.popleft()
            self._trips -= old_trips
            self._reversals -= old_reversals

    def update(self, sample: Sample) -> list[Finding]:
        trips = number(sample.metrics, "trips")
        reversals = number(sample.metrics, "door_reversals")
        if trips is None or reversals is None or trips < 0 or reversals < 0:
            return []
        trips_n, reversals_n = int(trips), int(reversals)
        if trips_n == 0 and reversals_n == 0:
            return []
        self._add(trips_n, reversals_n)  # the warm-up fills the window too
        if self.baseline is None:
            self._warm_trips += trips_n
            self._warm_reversals += reversals_n
            if self._warm_trips >= self.warmup_trips:
                self.baseline = self._warm_reversals / self._warm_trips
            return []
        if trips_n == 0 or self._trips < self.window_trips:
            return []
        rate, limit = self._rate(), self.limit
        clear_below = self.baseline + 0.5 * (limit - self.baseline)
        if not self.persistence.decide(rate, limit, clear_below, sample.ts_ms):
            return []
        return [
            self.finding(
                self.persistence.first_ms or sample.ts_ms,
                f"doors reversed {rate:.2f} times per trip over the last {self._trips} trips, "
                f"normally {self.baseline:.2f} (limit {limit:.2f})",
                {
                    "metric": "door_reversals",
                    "value": round(rate, 4),
                    "baseline": round(self.baseline, 4),
                    "threshold": round(limit, 4),
                    "trips": self._trips,
                    "reversals": self._reversals,
                },
                key="door_reversals",
                params={
                    "rate": rate,
                    "trips": self._trips,
                    "baseline": self.baseline,
                    "limit": limit,
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.baseline is None or self._trips < self.window_trips:
            return None
        return self.persistence.active
