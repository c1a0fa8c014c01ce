"""Small bounded-state helpers shared by detectors."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final

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


def median_of(values: Iterable[float]) -> float:
    """Median of a small window in pure Python (an order of magnitude faster than numpy
    below a few hundred values, and the same result). The window must not be empty."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


_HALF: Final = sys.float_info.max / 2  # two floats below this add up without overflow


def median_unless_clear(values: Sequence[float], clear_below: float, limit: float) -> float | None:
    """The window's median (`median_of`), or None when every value lies below `clear_below`
    (itself at most `limit`): then so does the median, so `median > limit` is False and
    `median < clear_below` True, and nothing needs sorting (nearly every sample of a
    healthy device). The median is a value, or the mean of two values a <= b, where
    fl(a + b) <= 2b without overflow (b below half the largest float) and halving is
    monotonic."""
    if max(values) < clear_below <= limit and clear_below < _HALF:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mad_sigma_of(values: Iterable[float], centre: float | None = None) -> float:
    """1.4826 x the median absolute deviation: a normal sigma that ignores outliers and
    steps (it only grows when more than half of the window deviates). `centre`: the
    values' median, when the caller has it already."""
    data = list(values)
    if centre is None:
        centre = median_of(data)
    return 1.4826 * median_of([abs(v - centre) for v in data])


def robust_spread(values: Iterable[float], level: float) -> float:
    """A normal sigma that survives quantised signals: the larger of 1.4826 MAD and
    1.2533 x the mean absolute deviation (as `pump_multivariate` learns its spreads),
    never below a thousandth of the level."""
    deviations = [abs(v - level) for v in values]
    mad = 1.4826 * median_of(deviations)
    mean_abs = 1.2533 * sum(deviations) / len(deviations)
    return max(mad, mean_abs, 1e-3 * abs(level), 1e-9)
