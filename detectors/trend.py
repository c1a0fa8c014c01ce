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
        self.baseline: float | None = None
        self._bucket: deque[float] = deque(maxlen=max_bucket_samples)
        self._bucket_first_ms: int | None = None
        self._bucket_last_ms = 0

    @property
    def ready(self) -> bool:
        return self.baseline is not None and len(self.history) >= self.min_trend_buckets

    @property
    def limit(self) -> float:
        assert self.baseline is not None
        return self.baseline * self.limit_factor

    def fault_active(self) -> bool | None:
        return self.persistence.active if self.ready else None

    def add(self, ts_ms: int, value: float) -> TrendVerdict | None:
        """Feed one value; a verdict each time a bucket closes after the warm-up."""
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
        return steepest_rising_trend(
            list(self.history), self.short_trend_buckets, self.min_trend_buckets
        )

    def _on_bucket(self, ts_ms: int, level: float, now_ms: int) -> TrendVerdict | None:
        if self.baseline is None:
            self.warmup.append(level)
            if len(self.warmup) == self.warmup.maxlen:
                self.baseline = median_of(self.warmup)
            return None
        if self.history and ts_ms <= self.history[-1][0]:
            return None  # a clock that went backwards: keep the fit's time axis monotonic
        self.history.append((ts_ms, level))
        if len(self.history) < self.min_trend_buckets:
            return None
        baseline, limit = self.baseline, self.limit
        last3 = list(self.history)[-3:]
        recent = median_of(v for _, v in last3)
        # The recent level describes the middle of the last three buckets; the time to the
        # limit counts from now (with 10-min buckets, that is a quarter of an hour later).
        age_h = max(now_ms - sorted(t for t, _ in last3)[len(last3) // 2], 0) / 3_600_000
        slope, low, high = self.fit()
        elevated = recent > baseline * (1 + self.rise_margin)
        hours = (limit - recent) / slope - age_h if slope > 0 else float("inf")
        predicted = elevated and low > 0 and hours <= self.horizon_h
        crossed = recent >= limit
        clear = recent < baseline * (1 + self.rise_margin / 2)
        fired = self.persistence.observe(predicted or crossed, ts_ms, clear)
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
    fits = [
        theil_sen_points(points[-window:])
        for window in (10, short_window)
        if len(points) >= max(window, min_points)
    ]
    whole = theil_sen_points(points)
    rising = [fit for fit in (*fits, whole) if fit[1] > 0]
    return max(rising) if rising else whole


def theil_sen_points(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    times_h = np.array([t for t, _ in points], dtype=float) / 3_600_000
    values = np.array([v for _, v in points], dtype=float)
    return theil_sen(times_h, values)


def finite_hours(value: float) -> float | None:
    return round(max(value, 0.0), 2) if np.isfinite(value) else None
