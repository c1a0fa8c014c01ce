"""Time for the pump process detectors (cavitation, dry running, leakage) at any cadence.

A pump may report every second or every ten minutes. Their warm-ups, windows and
persistence are durations; a duration becomes a number of samples through the device's
learnt reporting interval (`detectors.cadence.Cadence`), never fewer than a minimum
count, so a sparse device still judges a median of several readings. A silence longer
than the device's own rhythm allows is a gap, not a restart: what was learnt is kept, the
windows start afresh (they never join the two sides of a gap) and a condition being
timed starts over. A start is a stopped-to-running change or a `start` event; the first
`settle_s` after it are not judged (pressure and flow build up, inrush current).

>>> clock = PumpClock(settle_s=30.0)
>>> [clock.observe(True, t * 600_000) for t in range(3)]  # every 10 min
[False, True, True]
>>> clock.samples_for(1800.0, min_count=3), clock.samples_for(60.0, min_count=3)
(3, 3)
>>> fast = PumpClock(settle_s=30.0)
>>> _ = [fast.observe(True, t * 2_000) for t in range(20)]
>>> fast.samples_for(30.0, min_count=3)
15
"""

from __future__ import annotations

from collections import deque
from typing import TypeVar

from detectors.cadence import Cadence

T = TypeVar("T")


class PumpClock:
    """The running state settled for `settle_s`, and the device's rhythm."""

    def __init__(self, settle_s: float, expected_s: float | None = None) -> None:
        self.settle_ms = int(settle_s * 1000)
        self.cadence = Cadence(expected_s)
        self.since_ms: int | None = None  # running since (None while stopped)
        self.gap = False  # the silence before the last sample was a gap

    def restart(self, ts_ms: int) -> None:
        """A `start` event: the settling begins again."""
        self.since_ms = ts_ms

    def observe(self, running: bool, ts_ms: int) -> bool:
        """Record a sample; True when the pump runs and has settled."""
        self.gap = self.cadence.observe(ts_ms)
        if not running:
            self.since_ms = None
            return False
        if self.since_ms is None:
            self.since_ms = ts_ms
        return ts_ms - self.since_ms >= self.settle_ms

    def samples_for(self, span_s: float, min_count: int) -> int:
        """How many samples span `span_s` at this device's rhythm (at least `min_count`)."""
        expected = self.cadence.expected_ms
        if not expected:
            return min_count
        return max(min_count, round(span_s * 1000 / expected))


def sized(window: deque[T], size: int) -> deque[T]:
    """The window with room for `size` samples (the newest kept): the device's rhythm
    may change, and with it how many samples a duration holds."""
    if window.maxlen == size:
        return window
    return deque(window, maxlen=size)


def warmed_up(count: int, span_ms: int, clock: PumpClock, warmup_s: float, min_count: int) -> bool:
    """Enough settled samples to learn from: `min_count`, covering `warmup_s` (the span of
    their times plus one interval, so that 60 samples 2 s apart cover 120 s)."""
    if count < min_count:
        return False
    interval = clock.cadence.expected_ms or 0
    return span_ms + interval >= warmup_s * 1000
