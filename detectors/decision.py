"""Deciders: what turns a detector's score into a finding, kept apart from the scoring.

As River's anomaly thresholders wrap an anomaly score, a detector computes its score and
hands it to one of these: `Hysteresis` (on and off thresholds, so a score hovering at the
limit fires once), `Persistence` (a condition held for a number of judgements in a row),
`Sustained` (held for a duration, when the sample rate is not known) and `RunningSince`
(a warm-up gate in time: nothing is judged while a machine settles after a start).

>>> h = Hysteresis(needed=2, clear_needed=1)
>>> [h.decide(score, on=10.0, off=5.0, ts_ms=t) for t, score in enumerate([12, 12, 12, 7, 12])]
[False, True, False, False, False]
>>> h.decide(3.0, on=10.0, off=5.0, ts_ms=5), h.active
(False, False)
"""

from __future__ import annotations


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


class Hysteresis(Persistence):
    """A score judged against two thresholds: the fault condition is `score > on` (below
    `on`, when `rising` is False) and the clear condition `score < off` (above `off`);
    between them is the dead band. `Persistence` decides on the two conditions."""

    def __init__(self, needed: int, clear_needed: int | None = None, rising: bool = True) -> None:
        super().__init__(needed, clear_needed)
        self.rising = rising

    def decide(self, score: float, on: float, off: float, ts_ms: int) -> bool:
        """True exactly once per episode (see `Persistence.observe`)."""
        if self.rising:
            return self.observe(score > on, ts_ms, score < off)
        return self.observe(score < on, ts_ms, score > off)


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
