"""Windows and warm-ups in time, for detectors judged on medians of recent readings.

A device reports every second or every ten minutes; a window of "15 samples" would be
15 s on one and 2.5 h on the other. These helpers take durations: a window spans
`span_s` of the device's learnt reporting interval (`detectors.cadence.Cadence`, or the
configured one), but never fewer than `min_count` readings (a median of one reading is
no median) and never more than `max_count` (bounded work per sample). A warm-up learns
over `span_s` and at least `min_count` readings, keeping at most `max_count` of them
evenly spread (a 1-s device does not hold 1,800 readings to learn over 30 minutes).

>>> from detectors.cadence import Cadence
>>> cadence = Cadence(expected_s=600.0)  # one reading every 10 minutes
>>> window = TimedWindow(span_s=60.0, min_count=5, max_count=60)
>>> window.fit(cadence), TimedWindow(60.0, 5, 60).fit(Cadence(expected_s=1.0))
(5, 60)
>>> warmup = TimedWarmup(span_s=300.0, min_count=12, max_count=100)
>>> [warmup.add(t * 600_000, 1.0 + t % 2, cadence) for t in range(12)][-2:]
[None, 1.5]
"""

from __future__ import annotations

from collections import deque

from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.rolling import median_of


class TimedWindow:
    """The latest readings over `span_s` (at least `min_count`, at most `max_count`)."""

    def __init__(self, span_s: float, min_count: int, max_count: int) -> None:
        self.span_ms = int(span_s * 1000)
        self.min_count = min_count
        self.max_count = max(max_count, min_count)
        self.values: deque[float] = deque(maxlen=min_count)
        self._for: tuple[int | None, int, int, int] | None = None  # what the size is for

    def fit(self, cadence: Cadence) -> int:
        """Size the window for the device's rhythm (the newest readings kept)."""
        expected = cadence.expected_ms
        key = (expected, self.span_ms, self.min_count, self.max_count)
        if key != self._for:
            self._for = key
            size = self.min_count
            if expected:
                size = min(self.max_count, max(self.min_count, round(self.span_ms / expected)))
            if size != self.values.maxlen:
                self.values = deque(self.values, maxlen=size)
        return self.values.maxlen or self.min_count

    def add(self, value: float) -> None:
        self.values.append(value)

    def clear(self) -> None:
        self.values.clear()

    @property
    def full(self) -> bool:
        return len(self.values) == self.values.maxlen

    def median(self) -> float:
        return median_of(self.values)

    def __len__(self) -> int:
        return len(self.values)


class TimedWarmup:
    """A baseline learnt as the median of the readings of `span_s` (at least `min_count`
    of them), every k-th reading kept so that at most `max_count` are held."""

    def __init__(self, span_s: float, min_count: int, max_count: int) -> None:
        self.span_ms = int(span_s * 1000)
        self.min_count = min_count
        self.max_count = max(max_count, min_count)
        self.values: list[float] = []
        self.first_ms: int | None = None
        self.seen = 0
        self.stride = 1

    def restart(self) -> None:
        """Learn again from the next reading (a gap or a relearn)."""
        self.values = []
        self.first_ms = None
        self.seen = 0

    def add(self, ts_ms: int, value: float, cadence: Cadence) -> float | None:
        """Take a reading; the learnt median once the warm-up is complete, else None."""
        expected = cadence.expected_ms or 0
        if self.first_ms is None:
            self.first_ms = ts_ms
            per_span = self.span_ms // expected if expected else self.max_count
            self.stride = max(1, -(-per_span // self.max_count))
        if self.seen % self.stride == 0:
            self.values.append(value)
            if len(self.values) > self.max_count:  # longer than planned (a stuck clock)
                self.values = self.values[::2]
                self.stride *= 2
        self.seen += 1
        spanned = ts_ms - self.first_ms + expected >= self.span_ms
        if not spanned or self.seen < self.min_count or not self.values:
            return None
        learnt = median_of(self.values)
        self.restart()
        return learnt


def timing_restarts(decider: Sustained) -> None:
    """A gap: a condition being timed starts over (neither side of a silence counts
    towards the other); a finding already raised stays raised."""
    decider.since_ms, decider.count = None, 0
    decider.clear_since_ms, decider.clear_seen = None, 0
