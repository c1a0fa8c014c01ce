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
    """Hysteresis: a condition must hold `needed` times in a row to fire, and clear to re-arm."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.streak = 0
        self.first_ms: int | None = None
        self.fired = False

    def observe(self, condition: bool, ts_ms: int) -> bool:
        """True exactly once, when the condition has held long enough."""
        if not condition:
            self.streak = 0
            self.first_ms = None
            self.fired = False
            return False
        if self.streak == 0:
            self.first_ms = ts_ms
        self.streak += 1
        if self.streak >= self.needed and not self.fired:
            self.fired = True
            return True
        return False
