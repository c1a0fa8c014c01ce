"""A device's reporting interval, learnt, and what counts as a gap.

Devices report from once a second to once every ten minutes, and a detector cannot know
which in advance: counting samples would make a "15-sample window" 15 s on one device and
2.5 h on another. Detectors keep their windows and warm-ups in time instead, and ask this
helper whether the silence before a sample was the device's ordinary rhythm or a gap (a
recording pause, a network outage, a stopped rig). A gap is not a restart: a detector
pauses across it (its windows do not join the two sides) and keeps what it learnt.

The expected interval is the median of the last `history` intervals (robust to the odd
late sample and to bursts), or the configured `expected_s` when a device's cadence is
known. A gap is an interval longer than `gap_factor` x the expected one and longer than
`min_gap_s` (jitter on a 1-s device is not a gap). A cadence change (a device reconfigured
from 1 s to 10 min) shows as long intervals of one size in a row: after `change_after` of
them, within a factor of two of each other, they are the new rhythm, not gaps.

>>> c = Cadence()
>>> [c.observe(t * 1000) for t in (0, 10, 20, 30, 40)]
[False, False, False, False, False]
>>> c.expected_ms
10000
>>> c.observe(400_000)  # six minutes of silence on a 10-s device
True
>>> c.observe(410_000), c.expected_ms  # the rhythm resumes; the gap is not learnt
(False, 10000)
>>> [c.observe(410_000 + k * 600_000) for k in (1, 2, 3, 4)]  # now every 10 min
[True, True, False, False]
>>> c.expected_ms
600000
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque


class Cadence:
    """The learnt reporting interval of one device's samples (one per detector that needs
    it: detectors are independent and see only their own samples)."""

    def __init__(
        self,
        expected_s: float | None = None,
        gap_factor: float = 5.0,
        min_gap_s: float = 30.0,
        history: int = 31,
        change_after: int = 3,
    ) -> None:
        self.configured_ms = None if expected_s is None else int(expected_s * 1000)
        self.gap_factor = gap_factor
        self.min_gap_ms = int(min_gap_s * 1000)
        self.intervals: deque[int] = deque(maxlen=history)
        # The same intervals kept sorted: every sample moves one in and one out (two
        # binary searches) instead of sorting the window again, which was a tenth of a
        # replay's detector time.
        self._sorted: list[int] = []
        self.last_ms: int | None = None
        self._expected: int | None = None
        self._limit: int | None = None  # gap_limit_ms(), kept with the expected interval
        self._set_expected(self.configured_ms)
        self._long: deque[int] = deque(maxlen=change_after)

    @property
    def expected_ms(self) -> int | None:
        """The expected interval between samples (None until two samples were heard)."""
        return self._expected

    def gap_limit_ms(self) -> int | None:
        """Silence longer than this is a gap (None while the cadence is unknown)."""
        return self._limit

    def _set_expected(self, expected: int | None) -> None:
        self._expected = expected
        self._limit = (
            None if expected is None else max(int(self.gap_factor * expected), self.min_gap_ms)
        )

    # The interval of a steady rhythm (learnt mode): the window holds only it and no long
    # interval is pending, so a sample this far after the last changes nothing but
    # `last_ms`. A class default, not set in `__init__`: a fresh instance has the attribute
    # layout that saved detector state is checked against (`ingest.detector_state`).
    _steady: int | None = None

    def observe(self, ts_ms: int) -> bool:
        """Record a sample's time; True when the silence before it was a gap. A sample out
        of order or at the same time changes nothing.

        A device on a steady rhythm takes the first branch only: a tenth of a replay's
        detector calls are this method (4 a sample), and the branch cuts one from about
        0.50 µs to 0.27 µs (`timeit` of a 10-s rhythm, the calling loop included)."""
        last = self.last_ms
        if last is not None:
            interval = ts_ms - last
            # the limit is checked again: a reloaded configuration may have moved it
            if interval == self._steady and interval <= (self._limit or 0):
                self.last_ms = ts_ms
                return False
        if last is None or ts_ms <= last:
            self.last_ms = ts_ms if last is None else last
            return False
        self.last_ms = ts_ms
        interval = ts_ms - last
        limit = self._limit
        if limit is not None and interval > limit:
            self._steady = None
            self._long.append(interval)
            if self.configured_ms is not None or not self._changed():
                return True  # a gap says nothing about the rhythm: not learnt
            self.intervals.clear()
            self.intervals.extend(self._long)
            self._sorted = sorted(self.intervals)
            self._long.clear()
            self._set_expected(self._median())
            return False
        if self._long:
            self._long.clear()
        if self.configured_ms is None:
            intervals = self.intervals
            # a steady rhythm (the interval leaving the window is the one coming in): the
            # window's median cannot move, and nearly every sample ends here
            if len(intervals) == intervals.maxlen and intervals[0] == interval:
                intervals.append(interval)
            else:
                self._learn(interval)
            ordered = self._sorted
            steady = len(ordered) == intervals.maxlen and ordered[0] == interval == ordered[-1]
            self._steady = interval if steady else None
        return False

    def _learn(self, interval: int) -> None:
        intervals, ordered = self.intervals, self._sorted
        if len(intervals) == intervals.maxlen:
            del ordered[bisect_left(ordered, intervals[0])]
        intervals.append(interval)
        insort(ordered, interval)
        self._set_expected(self._median())

    def _median(self) -> int:
        ordered = self._sorted
        mid = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[mid]
        return int((ordered[mid - 1] + ordered[mid]) / 2)

    def _changed(self) -> bool:
        """The last long intervals are a new rhythm: enough of them, of one size."""
        if len(self._long) < (self._long.maxlen or 1):
            return False
        return max(self._long) <= 2 * min(self._long)
