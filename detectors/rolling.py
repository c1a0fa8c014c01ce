"""Small bounded-state helpers shared by detectors."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np


class RollingWindow:
    """The last `size` values, with robust summaries."""

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.values.append(value)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def full(self) -> bool:
        return len(self.values) == self.values.maxlen

    def median(self) -> float:
        return float(median_of(self.values))

    def mad_sigma(self) -> float:
        """Median absolute deviation scaled to a normal sigma: robust to spikes."""
        data = np.fromiter(self.values, dtype=float)
        return float(1.4826 * np.median(np.abs(data - np.median(data))))


class Persistence:
    """Hysteresis: a condition must hold `needed` times in a row to fire; once fired, the
    clear condition must hold `clear_needed` times in a row to re-arm. Between the two
    (the dead band) nothing changes, so a signal hovering at a limit fires once."""

    def __init__(self, needed: int, clear_needed: int | None = None) -> None:
        self.needed = needed
        self.clear_needed = clear_needed or needed
        self.streak = 0
        self.clear_streak = 0
        self.first_ms: int | None = None
        self.fired = False

    @property
    def active(self) -> bool:
        """The fault condition holds, or fired and has not cleared yet."""
        return self.fired or self.streak > 0

    def observe(self, condition: bool, ts_ms: int, clear: bool | None = None) -> bool:
        """True exactly once per episode, when the condition has held long enough."""
        if clear is None:
            clear = not condition
        if condition:
            self.clear_streak = 0
            if self.streak == 0 and not self.fired:
                self.first_ms = ts_ms
            self.streak += 1
            if self.streak >= self.needed and not self.fired:
                self.fired = True
                return True
            return False
        self.streak = 0
        if not clear:
            self.clear_streak = 0
            return False
        self.clear_streak += 1
        if self.clear_streak >= self.clear_needed:
            self.fired = False
            self.first_ms = None
        return False


def median_of(values: Iterable[float]) -> float:
    """Median of a small window in pure Python (an order of magnitude faster than numpy
    below a few hundred values, and the same result). The window must not be empty."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def mad_sigma_of(values: Iterable[float], centre: float | None = None) -> float:
    """1.4826 x the median absolute deviation: a normal sigma that ignores outliers and
    steps (it only grows when more than half of the window deviates). `centre`: the
    values' median, when the caller has it already."""
    data = list(values)
    if centre is None:
        centre = median_of(data)
    return 1.4826 * median_of([abs(v - centre) for v in data])


class Sustained:
    """Hysteresis in time, for detectors whose sample rate is not known in advance: the
    condition must hold on every judged sample for at least `hold_ms` (and on at least
    `min_count` samples) to fire; once fired, the clear condition must hold for
    `clear_ms` (and `clear_count` samples) to re-arm. Samples that are neither (the dead
    band) break a run of either kind without changing the fired state."""

    def __init__(
        self,
        hold_ms: int,
        clear_ms: int | None = None,
        min_count: int = 1,
        clear_count: int = 1,
    ) -> None:
        self.hold_ms = hold_ms
        self.clear_ms = hold_ms if clear_ms is None else clear_ms
        self.min_count = min_count
        self.clear_count = clear_count
        self.since_ms: int | None = None
        self.count = 0
        self.clear_since_ms: int | None = None
        self.clear_seen = 0
        self.first_ms: int | None = None
        self.fired = False

    @property
    def active(self) -> bool:
        """The fault condition holds, or fired and has not cleared yet."""
        return self.fired or self.since_ms is not None

    def held_ms(self, ts_ms: int) -> int:
        return 0 if self.since_ms is None else ts_ms - self.since_ms

    def observe(self, condition: bool, ts_ms: int, clear: bool | None = None) -> bool:
        """True exactly once per episode, when the condition has held long enough."""
        if clear is None:
            clear = not condition
        if condition:
            self.clear_since_ms, self.clear_seen = None, 0
            if self.since_ms is None:
                self.since_ms, self.count = ts_ms, 0
                if not self.fired:
                    self.first_ms = ts_ms
            self.count += 1
            if (
                not self.fired
                and ts_ms - self.since_ms >= self.hold_ms
                and self.count >= self.min_count
            ):
                self.fired = True
                return True
            return False
        self.since_ms, self.count = None, 0
        if not clear:
            self.clear_since_ms, self.clear_seen = None, 0
            return False
        if self.clear_since_ms is None:
            self.clear_since_ms = ts_ms
        self.clear_seen += 1
        if (
            self.fired
            and ts_ms - self.clear_since_ms >= self.clear_ms
            and self.clear_seen >= self.clear_count
        ):
            self.fired = False
            self.first_ms = None
        if not self.fired:
            self.first_ms = None
        return False


class RunningSince:
    """When a machine last started: its running state is judged only once it has run
    `settle_ms` (start transients: pressure and flow build up, inrush current). A start is
    a stopped-to-running change, the first sample heard, or a gap in the samples longer
    than `max_gap_ms` (the device restarted and may have restarted the machine)."""

    def __init__(self, settle_ms: int, max_gap_ms: int = 300_000) -> None:
        self.settle_ms = settle_ms
        self.max_gap_ms = max_gap_ms
        self.since_ms: int | None = None
        self.last_ms: int | None = None

    def restart(self, ts_ms: int) -> None:
        self.since_ms = ts_ms

    def settled(self, running: bool, ts_ms: int) -> bool:
        gap = self.last_ms is not None and ts_ms - self.last_ms > self.max_gap_ms
        self.last_ms = ts_ms if self.last_ms is None else max(self.last_ms, ts_ms)
        if not running:
            self.since_ms = None
            return False
        if self.since_ms is None or gap:
            self.since_ms = ts_ms
        return ts_ms - self.since_ms >= self.settle_ms


def robust_spread(values: Iterable[float], level: float) -> float:
    """A normal sigma that survives quantised signals: the larger of 1.4826 MAD and
    1.2533 x the mean absolute deviation (as `pump_multivariate` learns its spreads),
    never below a thousandth of the level."""
    deviations = [abs(v - level) for v in values]
    mad = 1.4826 * median_of(deviations)
    mean_abs = 1.2533 * sum(deviations) / len(deviations)
    return max(mad, mean_abs, 1e-3 * abs(level), 1e-9)
