"""Small bounded-state helpers shared by detectors."""

from __future__ import annotations

from collections import deque

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
        return float(np.median(np.fromiter(self.values, dtype=float)))

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
