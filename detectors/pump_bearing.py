"""Pump bearing wear, predicted: vibration RMS creeps up for days or weeks as a bearing
wears, before it seizes. The detector estimates the trend and the time until vibration
crosses the alarm limit, and opens a ticket while there is still time to plan the repair.

Everything is in time, not samples, so one configuration serves a 1-s sensor and a
snapshot every 10 minutes. Running samples of `accelerometer1_rms_g` are reduced to
medians of `bucket_s` time buckets.

- Baseline: the median of the buckets of the first `baseline_s` of running data, heard
  without a gap (a gap during learning starts it again). Re-learnt only by an explicit
  rule: `relearn()` (called once a repair is verified), or a stable shift across a gap:
  after a recording gap the equipment may have been stopped, remounted or reloaded, and
  the level often sits higher or lower (IMS test 1: +16-24 % on every bearing after
  148 h). The buckets of the `relearn_s` after the gap (skipping the first `settle_s`)
  become the new baseline if they stay below the limit and do not clearly rise (even the
  lower 95 % bound of their slope would add less than half the rise margin over the
  period); otherwise the old baseline stands and is judged. The trend never spans a gap.
- Score: the Theil-Sen slope of the bucket medians (g per hour) with its 95 % interval,
  the steepest significant one over the last `fit_windows_h` (each thinned to at most
  `max_fit_points` medians).
- Decision: the level (median of the buckets of the last `level_s`, at least
  `min_level_buckets` of them) is more than
  `rise_margin` above the baseline, the lower slope bound is positive and the limit
  (`limit_factor` x baseline) is projected within `horizon_h`; or the level is past the
  limit. A rise that a step explains better than a line (`step_ratio`), with no
  significant rise after the step, is a re-seated sensor or a changed load, not wear:
  only the limit judges it. Held `hold_s` (and `min_count` judgements) to fire,
  re-armed once the level is back below half the rise margin for `hold_s`. While a
  gap's probation runs, only a level past the limit is judged.
- Escalation: once fired, a level `escalate_rise` above the last report emits a new
  finding (the ticket store appends it as an occurrence) with the new time to the limit,
  critical once the limit is crossed: a tripped detector does not go silent while the
  bearing keeps getting worse.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Any, ClassVar

from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, number
from detectors.cadence import Cadence
from detectors.decision import Sustained
from detectors.rolling import median_of
from detectors.trend import finite_hours, is_step, step_at, theil_sen_points

_MAX = sys.float_info.max  # a float within +-_MAX is finite


class BearingWearConfig(DetectorConfig):
    bucket_s: float = 60.0  # vibration is reduced to one median per bucket
    baseline_s: float = 1800.0  # the first running time learnt as the healthy level
    min_baseline_buckets: int = 3
    trend_h: float = 24.0  # the trend history kept ...
    max_history_buckets: int = Field(1500, ge=1)  # ... and never more buckets than this
    fit_windows_h: tuple[float, ...] = (1.0, 4.0, 24.0)  # trend fits: steepest rise wins
    min_fit_buckets: int = Field(6, ge=1)
    max_fit_points: int = Field(120, ge=2)  # longer fits are thinned to this many medians
    level_s: float = 600.0  # the judged level: median of this recent time ...
    min_level_buckets: int = 3  # ... and of at least this many buckets
    limit_factor: float = 1.5  # the alarm limit, x the learnt baseline
    rise_margin: float = 0.2  # the level must be this far above the baseline
    horizon_h: float = 7 * 24.0
    hold_s: float = 300.0
    min_count: int = 2
    step_ratio: float = 0.85  # a step explains the rise this much better than a line: no wear
    escalate_rise: float = 0.25  # a new finding once the level is this much higher
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_factor: float = 5.0
    min_gap_s: float = 60.0
    relearn_s: float = 6 * 3600.0  # after a gap: the time judged for a stable shift
    settle_s: float = 1800.0  # after a gap: the first time not learnt
    max_bucket_samples: int = Field(1200, ge=1)


class BearingWearDetector(Detector):
    name: ClassVar[str] = "pump_bearing_wear"
    version: ClassVar[str] = "2"
    kinds: ClassVar[frozenset[str]] = frozenset({"pump"})
    fault_type: ClassVar[str] = "bearing_wear"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "accelerometer1_rms_g"

    Config: ClassVar[type[BearingWearConfig]] = BearingWearConfig
    config: BearingWearConfig

    def __init__(self, device: DeviceRef, config: BearingWearConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.bucket_ms = int(c.bucket_s * 1000)
        self.cadence = Cadence(c.expected_interval_s, c.gap_factor, c.min_gap_s)
        self.decider = Sustained(int(c.hold_s * 1000), min_count=c.min_count, clear_count=1)
        self.baseline: float | None = None
        self.learning: list[tuple[int, float]] = []  # buckets of the baseline period
        self.history: deque[tuple[int, float]] = deque(maxlen=c.max_history_buckets)
        self.probation: list[tuple[int, float]] | None = None  # buckets after a gap
        self.gap_ms: int | None = None  # when the last gap ended
        self.reported_level: float | None = None
        self.shifts: list[dict[str, Any]] = []  # stable shifts adopted, for the evidence
        # The level the alarm limit is anchored to: the baseline, except that a shift
        # without a gap never raises it (the same sensor reads higher: the bearing may be
        # what changed). A gap (re-seated sensor, rebuilt rig) or `relearn` moves it.
        self.limit_base: float | None = None
        self.after_gap = False
        self._bucket_start: int | None = None
        self._bucket: deque[float] = deque(maxlen=c.max_bucket_samples)

    @property
    def limit(self) -> float:
        assert self.baseline is not None
        return (self.limit_base or self.baseline) * self.config.limit_factor

    def relearn(self, now_ms: int) -> None:
        """Forget the baseline and the trend: the next `baseline_s` of running data is the
        new healthy level (after a verified repair: a new bearing runs quieter)."""
        self.baseline = None
        self.limit_base = None
        self.learning = []
        self.history.clear()
        self.probation = None
        self.reported_level = None
        self.decider = Sustained(
            int(self.config.hold_s * 1000), min_count=self.config.min_count, clear_count=1
        )

    # -- feeding ---------------------------------------------------------------------

    def update(self, sample: Sample) -> list[Finding]:
        """The common path (a running sample in the open bucket) takes only the first
        branches, the metric read inline; a closed bucket computes its level once:
        1.58 -> 1.34 µs a sample, bucket closes included (bench devices replayed
        interleaved, CPU time, median of three runs)."""
        ts_ms = sample.ts_ms
        found: list[Finding] = []
        if self.cadence.observe(ts_ms):
            closed = self._close_bucket()
            if closed is not None:
                found += self._on_bucket(*closed)
            self._on_gap(ts_ms)
        metrics = sample.metrics
        value = metrics.get(self.metric)
        # as `number`, whose answer for a finite float is the float itself
        if type(value) is not float or not -_MAX <= value <= _MAX:
            value = number(metrics, self.metric)
            if value is None:
                return found
        if metrics.get("running") is False:
            return found
        bucket_start = ts_ms - ts_ms % self.bucket_ms
        current = self._bucket_start
        if current is None or bucket_start > current:
            if current is not None:
                closed = self._close_bucket()
                if closed is not None:
                    found += self._on_bucket(*closed)
            self._bucket_start = bucket_start
        self._bucket.append(value)
        return found

    def _close_bucket(self) -> tuple[int, float] | None:
        if not self._bucket or self._bucket_start is None:
            return None
        point = (self._bucket_start + self.bucket_ms // 2, float(median_of(self._bucket)))
        self._bucket.clear()
        self._bucket_start = None
        return point

    def _on_gap(self, ts_ms: int) -> None:
        """A gap is not a restart: the baseline stays; the trend does not span it, and a
        baseline half learnt starts again."""
        self.gap_ms = ts_ms
        self.history.clear()
        if self.baseline is None:
            self.learning = []
        else:
            self.probation = []
            self.after_gap = True

    def _on_bucket(self, ts_ms: int, level: float) -> list[Finding]:
        c = self.config
        if self.baseline is None:
            self.learning.append((ts_ms, level))
            spanned = ts_ms - self.learning[0][0] + self.bucket_ms >= c.baseline_s * 1000
            if spanned and len(self.learning) >= c.min_baseline_buckets:
                self.baseline = self.limit_base = median_of(v for _, v in self.learning)
                self.learning = []
            return []
        self.history.append((ts_ms, level))
        while self.history and ts_ms - self.history[0][0] > c.trend_h * 3_600_000:
            self.history.popleft()
        if self.probation is not None:
            self._probation(ts_ms, level)
            return self._judge(ts_ms)
        # the watch leaves the history and the baseline as they were: its level is the
        # judged one (one `_level` a bucket instead of two)
        return self._judge(ts_ms, self._watch_for_step(ts_ms))

    def _watch_for_step(self, ts_ms: int) -> tuple[float, int] | None:
        """A level that moved by a step without a gap (a sensor re-seated, a coupling
        changed) is put on probation from the step, as after a gap: it becomes the new
        baseline if it then stays put. Checked only while the level is off the baseline
        by half the rise margin (a healthy level never pays for it). Answers the level
        and its time when it computed them."""
        c = self.config
        assert self.baseline is not None
        if len(self.history) < 2 * c.min_fit_buckets or self.decider.fired:
            return None
        judged = self._level(ts_ms)
        level = judged[0]
        if abs(level / self.baseline - 1) <= c.rise_margin / 2:
            return judged
        points = thinned(list(self.history), c.max_fit_points)
        at = step_at(points, c.step_ratio, c.min_fit_buckets, c.rise_margin / 2)
        if at is None:
            return judged
        self.gap_ms = at - int(c.settle_s * 1000)  # the step is the settled start
        self.probation = [p for p in self.history if p[0] >= at]
        self.after_gap = False
        return judged

    def _rising(self, points: list[tuple[int, float]]) -> bool:
        """Clearly rising: even the lower 95 % bound of the slope adds more than half the
        rise margin over the points' span."""
        c = self.config
        _, low, _ = theil_sen_points(thinned(points, c.max_fit_points))
        level = median_of(v for _, v in points)
        return low * (points[-1][0] - points[0][0]) / 3_600_000 > c.rise_margin / 2 * level

    def _probation(self, ts_ms: int, level: float) -> None:
        """After a gap or a step: learn whether the level moved to a new stable place."""
        assert self.probation is not None and self.gap_ms is not None
        c = self.config
        since_gap = ts_ms - self.gap_ms
        if since_gap < c.settle_s * 1000:
            return
        self.probation.append((ts_ms, level))
        if since_gap < (c.settle_s + c.relearn_s) * 1000:
            # The start of wear looks like a step at first; once the part after it keeps
            # rising clearly it is wear, and waiting out the probation would silence the
            # prediction for hours: judged again from now on.
            if len(self.probation) >= c.min_fit_buckets and self._rising(self.probation):
                self.probation = None
            return
        points, self.probation = self.probation, None
        if len(points) < c.min_fit_buckets:
            return
        new_level = median_of(v for _, v in points)
        if self._rising(points) or new_level >= self.limit or self.decider.fired:
            return  # clearly rising, or past the limit: a fault, not a shift
        old = self.baseline or 0.0
        self.shifts.append(
            {
                "at_ms": ts_ms,
                "from": round(old, 5),
                "to": round(new_level, 5),
                "after_gap": self.after_gap,
            }
        )
        self.shifts = self.shifts[-5:]
        self.baseline = new_level
        base = self.limit_base or old
        self.limit_base = new_level if self.after_gap else min(base, new_level)
        self.history = deque(points, maxlen=c.max_history_buckets)

    # -- scoring and deciding --------------------------------------------------------

    def score(self, now_ms: int) -> float | None:
        """The vibration's slope in g per hour (None until the trend is fitted; `fit()`
        gives its 95 % bounds too)."""
        if self.baseline is None or len(self.history) < self.config.min_fit_buckets:
            return None
        return self.fit()[0]

    def fit(self) -> tuple[float, float, float]:
        """Theil-Sen slope and its 95 % bounds, in g per hour. Wear starts at an unknown
        time, so the trend is fitted over each of `fit_windows_h`; among the fits with a
        significant rise the steepest wins (a flat past would dilute a fast ramp). With
        no significant rise, the longest fit answers."""
        return self._fit()[0]

    def _fit(self) -> tuple[tuple[float, float, float], list[tuple[int, float]]]:
        """The fit and the (thinned) points it was made on."""
        points = list(self.history)
        end = points[-1][0]
        fits = []
        for hours in self.config.fit_windows_h:
            window = [p for p in points if end - p[0] <= hours * 3_600_000]
            if len(window) >= self.config.min_fit_buckets:
                used = thinned(window, self.config.max_fit_points)
                fits.append((theil_sen_points(used), used))
        if not fits:
            used = thinned(points, self.config.max_fit_points)
            return theil_sen_points(used), used
        rising = [fit for fit in fits if fit[0][1] > 0]
        return max(rising, key=lambda f: f[0]) if rising else fits[-1]

    def _stepped(self, fitted: list[tuple[int, float]]) -> bool:
        """The rise is a step, in the fitted window or in the whole history (a step hours
        ago leaves the level up, and a neighbour's wobble on top is no trend)."""
        c = self.config
        whole = thinned(list(self.history), c.max_fit_points)
        return any(
            is_step(points, c.step_ratio, c.min_fit_buckets, c.rise_margin / 2)
            for points in (fitted, whole)
        )

    def _level(self, ts_ms: int) -> tuple[float, int]:
        """The judged level and the time it describes (the middle of its buckets): the
        median of the buckets of the last `level_s`, at least `min_level_buckets` of them.
        Only the values are collected (their order does not change a median), newest
        first: the level is a short tail of a long history."""
        c = self.config
        span = c.level_s * 1000
        history = self.history
        values: list[float] = []
        for t, v in reversed(history):
            if ts_ms - t >= span:
                break
            values.append(v)
        count = len(values)
        if count < c.min_level_buckets:
            count = min(c.min_level_buckets, len(history))
            values = [history[-1 - i][1] for i in range(count)]
        # the middle bucket of the `count` newest, in time order
        return float(median_of(values)), history[len(history) - count + count // 2][0]

    def _judge(self, ts_ms: int, judged: tuple[float, int] | None = None) -> list[Finding]:
        """`judged`: `_level(ts_ms)`, when the caller has it already."""
        c = self.config
        assert self.baseline is not None
        if len(self.history) < c.min_fit_buckets:
            return []
        level, level_ms = judged or self._level(ts_ms)
        # the time to the limit counts from now (the end of the bucket just closed), not
        # from the middle of the time the level describes
        age_h = max(ts_ms + self.bucket_ms // 2 - level_ms, 0) / 3_600_000
        baseline, limit = self.baseline, self.limit
        crossed = level >= limit
        # The trend is fitted only when it can matter: a level clearly above the baseline
        # (a prediction), or a finding to write. A healthy bearing never pays for the
        # Theil-Sen fits, which were most of a replay's time.
        predicted = False
        fit: tuple[tuple[float, float, float], list[tuple[int, float]]] | None = None
        if self.probation is None and level > baseline * (1 + c.rise_margin):
            fit = self._fit()
            (slope, low, _), fitted = fit
            hours = (limit - level) / slope - age_h if slope > 0 else float("inf")
            predicted = low > 0 and hours <= c.horizon_h and not self._stepped(fitted)
        clear = level < baseline * (1 + c.rise_margin / 2)
        fired = self.decider.observe(predicted or crossed, ts_ms, clear)
        if not self.decider.fired:
            self.reported_level = None
            return []
        if not fired:
            last = self.reported_level
            if last is None or level < last * (1 + c.escalate_rise):
                return []
        self.reported_level = level
        (slope, low, high), _ = fit or self._fit()
        hours = (limit - level) / slope - age_h if slope > 0 else float("inf")
        hours_low = (limit - level) / high - age_h if high > 0 else float("inf")
        hours_high = (limit - level) / low - age_h if low > 0 else float("inf")
        summary = (
            f"vibration {level:.3f} g past the {limit:.3f} g limit "
            f"({level / baseline:.1f} x its baseline {baseline:.3f} g)"
            if crossed
            else f"vibration {level:.3f} g rising {slope * 24:.3f} g/day: "
            f"limit {limit:.3f} g in about {max(hours, 0):.1f} h"
        )
        evidence: dict[str, Any] = {
            "metric": self.metric,
            "value": round(level, 5),
            "baseline": round(baseline, 5),
            "threshold": round(limit, 5),
            "ratio": round(level / baseline, 3) if baseline > 0 else None,
            "slope_per_h": round(slope, 6),
            "slope_95": [round(low, 6), round(high, 6)],
            "level_age_h": round(age_h, 4),
            "hours_to_limit": None if crossed else round(max(hours, 0.0), 2),
            "hours_to_limit_95": None
            if crossed
            else [round(max(hours_low, 0.0), 2), finite_hours(hours_high)],
            "escalation": not fired,
            "window": [[t, round(v, 5)] for t, v in list(self.history)[-30:]],
        }
        if self.shifts:
            evidence["baseline_shifts"] = list(self.shifts)
        severity = Severity.CRITICAL if crossed and not fired else None
        params: dict[str, float | int | str] = (
            {"value": level, "limit": limit, "ratio": level / baseline, "baseline": baseline}
            if crossed
            else {"value": level, "slope": slope * 24, "limit": limit, "hours": max(hours, 0)}
        )
        key = "bearing.crossed" if crossed else "bearing.rising"
        onset = self.decider.first_ms or ts_ms
        return [self.finding(onset, summary, evidence, severity, key=key, params=params)]

    def fault_active(self) -> bool | None:
        if self.baseline is None or len(self.history) < self.config.min_fit_buckets:
            return None
        return self.decider.active


def thinned(points: list[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """At most `most` points: consecutive runs merged into their median time and value
    (a day of 1-minute buckets fitted as 120 medians: Theil-Sen is quadratic)."""
    if len(points) <= most:
        return points
    size = -(-len(points) // most)
    out = []
    for start in range(0, len(points), size):
        run = points[start : start + size]
        out.append((run[len(run) // 2][0], float(median_of(v for _, v in run))))
    return out
