"""A predictive trend on one signal, shared by the detectors that estimate wear: samples
are reduced to bucket medians, a robust Theil-Sen slope with its 95 % interval is fitted
on the recent buckets, and the time until the level crosses its limit is projected.

This is a helper, not a detector: a detector owns one `TrendTracker` per device and
turns its verdicts into findings. Buckets close after `bucket_s` seconds *and* at least
`min_bucket_samples` samples, so a signal that is only measured now and then (an
elevator's motor current during trips, sparse at night) still gives medians worth
fitting; a bucket never holds more than `max_bucket_samples` values (a frozen device
clock cannot grow it without bound).

Decision (the same rule as `pump_bearing`): the recent level (median of the last three
buckets) is clearly above the learnt baseline (`rise_margin`), the lower slope bound is
positive and the projected crossing of `limit_factor x baseline` is within `horizon_h`,
for `persist` buckets in a row; or the level is already past the limit. Re-armed once
the level is back below half the rise margin.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from detectors.decision import Persistence
from detectors.rolling import median_of

# norm.ppf(0.025): the two-sided 95 % interval of Sen (1968)
_Z_975: Final = -1.959963984540054


@dataclass(frozen=True, slots=True)
class TrendVerdict:
    """The state after a closed bucket: what a finding reports."""

    ts_ms: int
    level: float
    baseline: float
    limit: float
    slope_per_h: float
    slope_95: tuple[float, float]
    hours_to_limit: float | None
    hours_to_limit_95: tuple[float, float | None] | None
    crossed: bool
    fired: bool
    onset_ms: int
    escalated: bool  # fired earlier, and the level has risen clearly since the last report
    window: list[list[float]]

    def evidence(self, metric: str, digits: int = 5) -> dict[str, Any]:
        return {
            "metric": metric,
            "value": round(self.level, digits),
            "baseline": round(self.baseline, digits),
            "threshold": round(self.limit, digits),
            "slope_per_h": round(self.slope_per_h, digits + 1),
            "slope_95": [round(v, digits + 1) for v in self.slope_95],
            "hours_to_limit": self.hours_to_limit,
            "hours_to_limit_95": None
            if self.hours_to_limit_95 is None
            else list(self.hours_to_limit_95),
            "escalation": self.escalated,
            "window": self.window,
        }


class TrendTracker:
    def __init__(
        self,
        bucket_s: float = 600.0,
        min_bucket_samples: int = 5,
        max_bucket_samples: int = 600,
        warmup_buckets: int = 6,
        trend_buckets: int = 144,
        min_trend_buckets: int = 6,
        short_trend_buckets: int = 24,
        limit_factor: float = 1.5,
        rise_margin: float = 0.2,
        horizon_h: float = 7 * 24.0,
        persist: int = 3,
        step_ratio: float = 0.85,
        escalate_rise: float = 0.25,
        settle_s: float = 1800.0,
        relearn_s: float = 6 * 3600.0,
    ) -> None:
        self.bucket_ms = int(bucket_s * 1000)
        self.min_bucket_samples = min_bucket_samples
        self.warmup: deque[float] = deque(maxlen=warmup_buckets)
        self.history: deque[tuple[int, float]] = deque(maxlen=trend_buckets)
        self.min_trend_buckets = min_trend_buckets
        self.short_trend_buckets = short_trend_buckets
        self.limit_factor = limit_factor
        self.rise_margin = rise_margin
        self.horizon_h = horizon_h
        self.persistence = Persistence(persist)
        self.step_ratio = step_ratio
        self.escalate_rise = escalate_rise
        self.settle_ms = int(settle_s * 1000)
        self.relearn_ms = int(relearn_s * 1000)
        self.baseline: float | None = None
        self.probation: list[tuple[int, float]] | None = None  # buckets after a gap
        self.gap_ms: int | None = None
        self.reported_level: float | None = None
        # the level the alarm limit is anchored to: a shift without a gap never raises it
        self.limit_base: float | None = None
        self.after_gap = False
        self._bucket: deque[float] = deque(maxlen=max_bucket_samples)
        self._bucket_first_ms: int | None = None
        self._bucket_last_ms = 0

    @property
    def ready(self) -> bool:
        return self.baseline is not None and len(self.history) >= self.min_trend_buckets

    @property
    def limit(self) -> float:
        assert self.baseline is not None
        return (self.limit_base or self.baseline) * self.limit_factor

    def fault_active(self) -> bool | None:
        return self.persistence.active if self.ready else None

    def on_gap(self, ts_ms: int) -> None:
        """A recording gap: the trend does not span it and the bucket in progress is
        dropped; a baseline half learnt starts again, a learnt one is kept and the
        buckets after the gap are watched for a stable shift (see `_probation`)."""
        self._bucket.clear()
        self._bucket_first_ms = None
        self.history.clear()
        self.gap_ms = ts_ms
        if self.baseline is None:
            self.warmup.clear()
        else:
            self.probation = []
            self.after_gap = True

    def relearn(self) -> None:
        """Forget the baseline and the trend (after a verified repair)."""
        self.warmup.clear()
        self.history.clear()
        self.baseline = None
        self.limit_base = None
        self.probation = None
        self.reported_level = None
        self.persistence = Persistence(self.persistence.needed)

    def _probation(self, ts_ms: int, level: float) -> None:
        """After a gap: a level that moved and then stays put (a re-seated sensor, a
        rebuilt rig) is the new baseline once `relearn_s` after the first `settle_s` shows
        no clear rise and no level past the limit; otherwise the old baseline stands."""
        assert self.probation is not None and self.gap_ms is not None
        since = ts_ms - self.gap_ms
        if since < self.settle_ms:
            return
        self.probation.append((ts_ms, level))
        if since < self.settle_ms + self.relearn_ms:
            if len(self.probation) >= self.min_trend_buckets and self._rising(self.probation):
                self.probation = None  # a ramp, not a shift: judged again from now on
            return
        points, self.probation = self.probation, None
        if len(points) < self.min_trend_buckets:
            return
        new_level = median_of(v for _, v in points)
        _, low, _ = theil_sen_points(points)
        rise = low * (points[-1][0] - points[0][0]) / 3_600_000
        if rise > self.rise_margin / 2 * new_level or new_level >= self.limit:
            return
        if self.persistence.fired:
            return
        assert self.baseline is not None
        base = self.limit_base or self.baseline
        self.baseline = new_level
        self.limit_base = new_level if self.after_gap else min(base, new_level)
        self.history.clear()
        self.history.extend(points)

    def _rising(self, points: list[tuple[int, float]]) -> bool:
        """Clearly rising: even the lower 95 % bound of the slope adds more than half the
        rise margin over the points' span (the start of wear looks like a step at first;
        once the part after it keeps rising, it is wear, and waiting out the whole
        probation would silence the prediction for hours)."""
        _, low, _ = theil_sen_points(points)
        level = median_of(v for _, v in points)
        return low * (points[-1][0] - points[0][0]) / 3_600_000 > self.rise_margin / 2 * level

    def _watch_for_step(self, ts_ms: int, level: float) -> None:
        """A step without a gap (a re-seated sensor, a changed load) goes on the same
        probation from the step; adopted, it moves the baseline but never raises the
        limit. Checked only while the level is off the baseline by half the rise margin."""
        assert self.baseline is not None
        if len(self.history) < 2 * self.min_trend_buckets or self.persistence.fired:
            return
        if abs(level / self.baseline - 1) <= self.rise_margin / 2:
            return
        at = step_at(
            list(self.history), self.step_ratio, self.min_trend_buckets, self.rise_margin / 2
        )
        if at is None:
            return
        self.gap_ms = at - self.settle_ms
        self.probation = [p for p in self.history if p[0] >= at]
        self.after_gap = False

    def add(self, ts_ms: int, value: float) -> TrendVerdict | None:
        """Feed one value; a verdict when a closed bucket fires or escalates (None else)."""
        closed: tuple[int, float] | None = None
        if (
            self._bucket_first_ms is not None
            and ts_ms - self._bucket_first_ms >= self.bucket_ms
            and len(self._bucket) >= self.min_bucket_samples
        ):
            middle = (self._bucket_first_ms + self._bucket_last_ms) // 2
            closed = (middle, median_of(self._bucket))
            self._bucket.clear()
            self._bucket_first_ms = None
        if self._bucket_first_ms is None:
            self._bucket_first_ms = ts_ms
        self._bucket_last_ms = max(self._bucket_last_ms, ts_ms)
        self._bucket.append(value)
        return None if closed is None else self._on_bucket(*closed, now_ms=ts_ms)

    def fit(self) -> tuple[float, float, float]:
        """Theil-Sen slope and its 95 % bounds, in units per hour: the steepest significant
        rise among the last 10 buckets, the last `short_trend_buckets` and the whole
        history (wear starts at an unknown time; a flat past would dilute a fast ramp),
        else the whole history."""
        return steepest_rising_fit(
            list(self.history), self.short_trend_buckets, self.min_trend_buckets
        )[0]

    def _on_bucket(self, ts_ms: int, level: float, now_ms: int) -> TrendVerdict | None:
        if self.baseline is None:
            self.warmup.append(level)
            if len(self.warmup) == self.warmup.maxlen:
                self.baseline = self.limit_base = median_of(self.warmup)
            return None
        if self.history and ts_ms <= self.history[-1][0]:
            return None  # a clock that went backwards: keep the fit's time axis monotonic
        self.history.append((ts_ms, level))
        if self.probation is not None:
            self._probation(ts_ms, level)
        elif self.baseline is not None:
            recent_level = median_of(v for _, v in list(self.history)[-3:])
            self._watch_for_step(ts_ms, recent_level)
        if len(self.history) < self.min_trend_buckets:
            return None
        baseline, limit = self.baseline, self.limit
        last3 = list(self.history)[-3:]
        recent = median_of(v for _, v in last3)
        # The recent level describes the middle of the last three buckets; the time to the
        # limit counts from now (with 10-min buckets, that is a quarter of an hour later).
        age_h = max(now_ms - sorted(t for t, _ in last3)[len(last3) // 2], 0) / 3_600_000
        # The trend is fitted only when it can matter: a level clearly above the baseline
        # (a prediction), or a verdict to report. A healthy signal never pays for the fits.
        fit: tuple[tuple[float, float, float], list[tuple[int, float]]] | None = None
        predicted = False
        if self.probation is None and recent > baseline * (1 + self.rise_margin):
            fit = steepest_rising_fit(
                list(self.history), self.short_trend_buckets, self.min_trend_buckets
            )
            (slope, low, _), fitted = fit
            hours = (limit - recent) / slope - age_h if slope > 0 else float("inf")
            predicted = (
                low > 0
                and hours <= self.horizon_h
                and not is_step(
                    fitted, self.step_ratio, self.min_trend_buckets, self.rise_margin / 2
                )
            )
        crossed = recent >= limit
        clear = recent < baseline * (1 + self.rise_margin / 2)
        fired = self.persistence.observe(predicted or crossed, ts_ms, clear)
        escalated = False
        if not self.persistence.fired:
            self.reported_level = None
        elif fired:
            self.reported_level = recent
        elif self.reported_level is not None and recent >= self.reported_level * (
            1 + self.escalate_rise
        ):
            escalated, self.reported_level = True, recent
        if not (fired or escalated):
            return None
        (slope, low, high), _ = fit or steepest_rising_fit(
            list(self.history), self.short_trend_buckets, self.min_trend_buckets
        )
        hours = (limit - recent) / slope - age_h if slope > 0 else float("inf")
        hours_low = (limit - recent) / high - age_h if high > 0 else float("inf")
        hours_high = (limit - recent) / low - age_h if low > 0 else float("inf")
        return TrendVerdict(
            ts_ms=ts_ms,
            level=recent,
            baseline=baseline,
            limit=limit,
            slope_per_h=slope,
            slope_95=(low, high),
            hours_to_limit=None if crossed else round(max(hours, 0.0), 2),
            hours_to_limit_95=None
            if crossed
            else (round(max(hours_low, 0.0), 2), finite_hours(hours_high)),
            crossed=crossed,
            fired=fired,
            onset_ms=self.persistence.first_ms or ts_ms,
            escalated=escalated,
            window=[[t, round(v, 6)] for t, v in list(self.history)[-30:]],
        )


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Theil-Sen slope with its 95 % interval: `scipy.stats.theilslopes(y, x, 0.95)`
    without its per-call overhead (the same pairwise slopes, median and Sen's (1968)
    tie-corrected interval; it runs on every closed bucket of every device).
    (0, 0, 0) when all x are equal."""
    deltax = x[:, np.newaxis] - x
    positive = deltax > 0
    slopes = (y[:, np.newaxis] - y)[positive] / deltax[positive]
    nt = len(slopes)
    if not nt:
        return 0.0, 0.0, 0.0
    n = len(y)
    sigsq = (n * (n - 1) * (2 * n + 5) - _tie_term(x) - _tie_term(y)) / 18.0
    sigma = float(np.sqrt(sigsq)) if sigsq > 0 else 0.0
    upper = min(int(np.round((nt - _Z_975 * sigma) / 2.0)), nt - 1)
    lower = max(int(np.round((nt + _Z_975 * sigma) / 2.0)) - 1, 0)
    mid = nt // 2
    ranks = sorted({lower, upper, mid, max(mid - 1, 0)})
    slopes.partition(ranks)  # only these order statistics are needed: O(n), not a sort
    median = float(slopes[mid]) if nt % 2 else float((slopes[mid - 1] + slopes[mid]) / 2)
    return median, float(slopes[lower]), float(slopes[upper])


def _tie_term(values: np.ndarray) -> int:
    """Sen's correction for groups of equal values: sum of k (k - 1) (2k + 5)."""
    ordered = np.sort(values)
    equal = ordered[1:] == ordered[:-1]
    if not equal.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], equal.view(np.int8), [0]))))
    tied = edges[1::2] - edges[::2] + 1
    return int(np.sum(tied * (tied - 1) * (2 * tied + 5)))


def steepest_rising_trend(
    points: list[tuple[int, float]], short_window: int, min_points: int
) -> tuple[float, float, float]:
    """Theil-Sen fits (slope per hour, 95 % bounds) over the last 10 points, the last
    `short_window` and all of them; the steepest significant rise wins (wear starts at an
    unknown time, and a flat past would dilute a fast ramp), else the fit over all."""
    return steepest_rising_fit(points, short_window, min_points)[0]


def steepest_rising_fit(
    points: list[tuple[int, float]], short_window: int, min_points: int
) -> tuple[tuple[float, float, float], list[tuple[int, float]]]:
    """`steepest_rising_trend` with the points the winning fit was made on."""
    windows = [
        points[-window:] for window in (10, short_window) if len(points) >= max(window, min_points)
    ]
    fits = [(theil_sen_points(w), w) for w in (*windows, points)]
    rising = [fit for fit in fits if fit[0][1] > 0]
    return max(rising, key=lambda f: f[0]) if rising else fits[-1]


def theil_sen_points(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    times_h = np.array([t for t, _ in points], dtype=float) / 3_600_000
    values = np.array([v for _, v in points], dtype=float)
    return theil_sen(times_h, values)


def finite_hours(value: float) -> float | None:
    return round(max(value, 0.0), 2) if np.isfinite(value) else None


def is_step(
    points: list[tuple[int, float]], ratio: float, min_points: int, margin: float = 0.1
) -> bool:
    """Is this rise a step (a re-seated sensor, a changed load) rather than wear? See
    `step_at`."""
    return step_at(points, ratio, min_points, margin) is not None


def step_at(
    points: list[tuple[int, float]], ratio: float, min_points: int, margin: float = 0.1
) -> int | None:
    """Where a step explains these points, if one does (the time of the first point after
    it): the best split into two medians leaves less than `ratio` x the absolute residuals
    of the Theil-Sen line, and the part after the split does not clearly keep rising: even
    the lower 95 % bound of its slope adds less than `margin` x its level over its span (a
    wobble is significant, not clear). A part after the split too short to tell a ramp's
    start from a step counts as a step: wait and see."""
    n = len(points)
    if n < 2 * 3:
        return None
    times = np.array([t for t, _ in points], dtype=float) / 3_600_000
    values = np.array([v for _, v in points], dtype=float)
    slope, _, _ = theil_sen(times, values)
    intercept = float(np.median(values - slope * times))
    line = float(np.abs(values - intercept - slope * times).sum())
    best, split = float("inf"), 0
    for k in range(3, n - 2):
        left, right = values[:k], values[k:]
        cost = float(np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum())
        if cost < best:
            best, split = cost, k
    if best >= ratio * line:
        return None
    after = points[split:]
    if len(after) >= min_points:
        low = theil_sen_points(after)[1]
        span_h = (after[-1][0] - after[0][0]) / 3_600_000
        if low * span_h > margin * float(np.median(values[split:])):
            return None
    return after[0][0]
