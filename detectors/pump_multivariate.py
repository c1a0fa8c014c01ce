"""Pump anomaly: a running pump leaves its normal operating point. A throttled inlet (the
pump starves), a throttled outlet, a leak, a rotor imbalance or cavitation each move
some of the pump's hydraulic or mechanical signals away from where they sat while it ran
normally: flow and pressure drop or swing, vibration RMS rises, the motor's current
follows the changed hydraulic load.

Learning: the first `warmup_samples` running samples (SKAB's protocol fits on 400), or
whatever running samples `warmup_s` seconds gave (at least `min_warmup_samples`) on a
device that reports sparsely, give each signal its normal level (median) and spread (a
robust standard deviation: the larger of 1.4826 MAD and 1.2533 mean absolute deviation,
so that a quantised signal that sits on one value most of the time still gets a spread).

A warm-up of minutes sees the sensors' noise, not how far a healthy pump's operating
point wanders over an hour (on SKAB's anomaly-free recording the vibration RMS wanders
by 4 % and the flow by 2 % while the short-term spread is a tenth of that). So each
spread has a floor: `drift_allowance[signal]` x the level / `threshold`, i.e. a
deviation within the allowance never reaches the threshold. The allowance is the normal
relative wander of the signal, measured on a fault-free recording of the same kind of
pump (`facmon evaluate skab` measures it on SKAB's `anomaly-free/` and prints it);
signals without one get `min_relative_spread` x the level.

Score: every signal is smoothed by an exponential average with a time constant of
`smooth_s` seconds, but never less than `min_smooth_samples` sampling intervals (the
device's learnt interval, `detectors.cadence`, or `expected_interval_s`): a smoother
shorter than one interval averages nothing, and a device that reports once a minute
would otherwise alarm on five unlucky readings of sensor noise in a row. The smoothed
signal is compared with its learnt level in units of its learnt spread; the score is the
largest absolute deviation. Decision: a score of at least `threshold` for `persist`
samples in a row raises the alarm (one finding); a score below `threshold * clear_ratio`
for `clear_persist` samples in a row clears it; in between nothing changes
(hysteresis). While no alarm stands, each signal within its clear band follows slow
drift with a time constant of `baseline_s` (never less than `min_baseline_samples`
sampling intervals), so an ongoing fault is never learnt as normal, and one signal off
its level does not stop the others following a daily supply swing. A silence longer
than `gap_intervals` sampling intervals (and `min_gap_s`) is a gap (a stop is one too:
stopped samples are skipped): it counts as one interval for the drift, so nothing is
re-learnt from the first readings after it. The 3-sample median spans it (and the end
of the warm-up): a glitch in the first reading after a start must not pass unfiltered.

Stable shifts: a vibration sensor re-seated or re-mounted reads higher or lower from one
sample on, with no gap, where wear rises and keeps rising. An excursion of the
`shift_signals` alone (every other signal within its clear band) is put on probation
for `shift_s` (at least `min_shift_samples`): the decision judges the other signals only
meanwhile, and the mean readings of the span's two halves are compared. Back within the
band: nothing. Flat: the level is adopted as the new normal of the signals that moved
(`shifts`, in the evidence as `baseline_shifts`). Its second half `shift_rise_spreads`
spreads further off than its first in two spans in a row, or off by `max_shift` of the
level at any time: a fault, its finding dated from the first span's start. Otherwise the
learnt levels change only by `relearn()` (a verified repair).

Temperatures are left out by default: motor and fluid temperature follow ambient and
duty over tens of minutes, so a short warm-up learns neither their range nor their
normal rate of change. On SKAB's valve1 recordings adding them, as levels or as rates,
raised false alarms without catching more (`facmon evaluate skab`).

Only samples that carry every monitored signal are used: the set is fixed by the first
sample that carries any of them; `running: false` samples are skipped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import ClassVar, Final

import numpy as np
from pydantic import Field

from contract.finding import Finding, Severity
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig
from detectors.cadence import Cadence
from detectors.decision import Persistence

# Hydraulic and mechanical signals of contract kind `pump` (contract/topics.py).
PUMP_SIGNALS: Final = (
    "accelerometer1_rms_g",
    "accelerometer2_rms_g",
    "current_a",
    "voltage_v",
    "pressure_bar",
    "flow_rate_lpm",
)


def median_of_three(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Element-wise median of three vectors: exact, and a tenth of `np.median`'s cost,
    which profiled as a third of all ingest work on a pump fleet."""
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def median_of_three_rows(a: list[float], b: list[float], c: list[float]) -> list[float]:
    """`median_of_three` on Python floats, element by element, with numpy's pick on ties
    (`np.minimum` and `np.maximum` give their second argument when the two are equal)."""
    out = []
    for x, y, w in zip(a, b, c, strict=True):
        if x < y:
            low, high = x, y
        else:
            low, high = y, (x if x > y else y)
        inner = high if high < w else w
        out.append(low if low > inner else inner)
    return out


def _deviations(smooth: list[float], level: list[float], spread: list[float]) -> list[float]:
    """(smooth - level) / spread per signal; a zero spread (possible only when configured
    with no floor) gives numpy's infinities and NaN, as the arrays did."""
    try:
        return [(s - v) / d for s, v, d in zip(smooth, level, spread, strict=True)]
    except ZeroDivisionError:
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((np.array(smooth) - level) / np.array(spread)).tolist()


def _largest_magnitude(values: list[float]) -> float:
    """`np.max(np.abs(values))`: the largest magnitude, NaN when any value is NaN."""
    worst = max(map(abs, values))
    total = sum(values)  # NaN when any value is (or with infinities of both signs)
    if total == total or worst != worst:
        return worst
    return math.nan if any(v != v for v in values) else worst


def one_pass(
    rows: Sequence[list[float]],
    smooth: list[float],
    level: list[float],
    spread: list[float],
    alpha: float,
    beta: float,
) -> tuple[list[float], list[float], float, list[float]] | None:
    """A judged sample's arithmetic in one pass over the signals: the running median of
    the last three rows (`median_of_three_rows`; the row itself before there are three),
    the smoothed values, the deviations (`_deviations`), their largest magnitude
    (`_largest_magnitude`) and the levels drifted toward the smoothed values. Each is the
    same IEEE operation in the same order as in those functions, so the same bits
    (tests/detectors/test_fast_paths.py); None for a zero spread, which they handle.
    Why: six separate passes, each a comprehension or a call, were half of an update."""
    if len(rows) == 3:
        first, second, third = rows
    else:
        first = second = third = rows[-1]
    smoothed: list[float] = []
    deviations: list[float] = []
    drifted: list[float] = []
    worst = -1.0
    nan = False
    try:
        for x, y, w, s, v, d in zip(first, second, third, smooth, level, spread, strict=True):
            if x < y:
                low, high = x, y
            else:
                low, high = y, (x if x > y else y)
            inner = high if high < w else w
            f = low if low > inner else inner
            s = s + alpha * (f - s)
            deviation = (s - v) / d
            magnitude = abs(deviation)
            if not deviations or magnitude > worst:  # `max`: the first of equals
                worst = magnitude
            if deviation != deviation:
                nan = True
            smoothed.append(s)
            deviations.append(deviation)
            drifted.append(v + beta * (s - v))
    except ZeroDivisionError:
        return None
    if nan and worst == worst:
        worst = math.nan
    return smoothed, deviations, worst, drifted


class PumpMultivariateConfig(DetectorConfig):
    warmup_samples: int = Field(400, ge=2)
    warmup_s: float = Field(7200.0, gt=0)  # or this long, for a device that reports sparsely
    min_warmup_samples: int = Field(12, ge=2)  # ... with at least this many samples
    smooth_s: float = 5.0  # smoothing time constant (at least `min_smooth_samples`)
    min_smooth_samples: float = 3.0
    threshold: float = 2.5  # deviation in learnt spreads
    clear_ratio: float = 0.7  # re-armed below this x the threshold
    persist: int = 5
    clear_persist: int = 5
    baseline_s: float = 600.0  # the learnt level follows slow drift this slowly
    min_baseline_samples: float = 20.0  # ... but over at least this many intervals
    expected_interval_s: float | None = None  # None: learnt from the samples
    gap_intervals: float = Field(5.0, gt=1)  # a silence this many intervals long is a gap
    min_gap_s: float = Field(30.0, ge=0)  # ... and at least this long (jitter is not a gap)
    # Stable shifts: an excursion of these signals alone is judged over `shift_s` (and
    # `min_shift_samples`) before it alarms: flat, it is adopted as the new normal (a
    # re-seated sensor); its second half `shift_rise_spreads` further off than its first
    # in two spans in a row (a rise that keeps rising), or off by `max_shift` of the
    # level at any time, it is a fault.
    shift_signals: tuple[str, ...] = ("accelerometer1_rms_g", "accelerometer2_rms_g")
    shift_s: float = Field(3600.0, gt=0)
    min_shift_samples: int = Field(12, ge=4)
    shift_rise_spreads: float = Field(1.5, ge=0)
    max_shift: float = Field(0.5, gt=0)
    signals: tuple[str, ...] = PUMP_SIGNALS
    # A spread never below this fraction of the level: a signal that is constant during the
    # warm-up must not turn the sensor's last digit into an alarm.
    min_relative_spread: float = Field(1e-3, ge=0)
    # Normal relative wander per signal (fraction of its level), from a fault-free recording.
    # The mains voltage swings with the grid's daily load (street lighting recording:
    # +-1.6 % a day; SKAB anomaly-free: 4.7 %), which no warm-up of hours sees.
    drift_allowance: dict[str, float] = Field(default_factory=lambda: {"voltage_v": 0.04})


class PumpMultivariateDetector(Detector):
    name: ClassVar[str] = "pump_multivariate"
    version: ClassVar[str] = "4"
    kinds: ClassVar[frozenset[str]] = frozenset({"pump"})
    fault_type: ClassVar[str] = "pump_anomaly"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[PumpMultivariateConfig]] = PumpMultivariateConfig
    config: PumpMultivariateConfig

    def __init__(self, device: DeviceRef, config: PumpMultivariateConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.warmup_samples = c.warmup_samples
        self.smooth_s = c.smooth_s
        self.min_smooth_samples = c.min_smooth_samples
        self.threshold = c.threshold
        self.clear_level = c.threshold * c.clear_ratio
        self.baseline_s = c.baseline_s
        self.candidates = c.signals
        self.persistence = Persistence(c.persist, c.clear_persist)
        self.signals: tuple[str, ...] | None = None  # fixed by the first usable sample
        # The warm-up samples, one row each, allocated with the first: a fifth of the
        # memory of Python tuples, which at thousands of pumps was a hundred MB.
        self._warm_values: np.ndarray | None = None
        self._warm_ts: np.ndarray | None = None
        self._warm_count = 0
        # Per signal, as Python floats (see `update`): the learnt normal level and spread,
        # the smoothed current values and the last deviations, in spreads.
        self.level: list[float] | None = None
        self.spread: list[float] | None = None
        self.smooth: list[float] | None = None
        self.z: list[float] | None = None
        self.last_ts: int | None = None
        # The device's rhythm, heard on every sample (stopped ones too: a stop is not a
        # new cadence); the time constants follow it.
        self.cadence = Cadence(c.expected_interval_s, c.gap_intervals, c.min_gap_s)
        self._timing_for: int | None = None  # the interval the time constants are for
        self.interval_s = 1.0
        self.gap_s = math.inf  # a silence between judged samples longer than this is a gap
        # A running median of three drops a single glitched reading before smoothing.
        self._recent: deque[list[float]] = deque(maxlen=3)
        self.shift: ShiftProbation | None = None  # an excursion of shift signals on trial
        self.refused_since_ms: int | None = None  # a refused shift: judged whole until clear
        self.shifts: list[dict[str, object]] = []  # shifts adopted, for the evidence
        self._shift_mask: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.level is not None

    @property
    def alarm(self) -> bool:
        """The decision: an alarm has been raised and has not cleared."""
        return self.persistence.fired

    def fault_active(self) -> bool | None:
        if not self.fitted:
            return None
        return self.persistence.active

    def score(self, now_ms: int) -> float | None:
        """The largest absolute deviation of a smoothed signal from its learnt level, in
        learnt spreads (None until the warm-up is over)."""
        return None if self.z is None else self._deviation()

    def _deviation(self) -> float:
        assert self.z is not None
        return _largest_magnitude(self.z)

    def _values(self, metrics: dict[str, MetricValue]) -> list[float] | None:
        if metrics.get("running") is False:
            return None
        if self.signals is None:
            present = tuple(s for s in self.candidates if _is_number(metrics.get(s)))
            if not present:
                return None
            self.signals = present
        values = []
        for name in self.signals:
            value = metrics.get(name)
            if type(value) is not float:  # the common case: checked without isinstance
                if not isinstance(value, float | int) or isinstance(value, bool):
                    return None
                value = float(value)
            if not -math.inf < value < math.inf:
                return None
            values.append(value)
        return values

    def _warm_long_enough(self, last_ts_ms: int) -> bool:
        """A sparse device: `warmup_s` of samples (and `min_warmup_samples`) will do."""
        assert self._warm_ts is not None
        if self._warm_count < self.config.min_warmup_samples:
            return False
        return (last_ts_ms - int(self._warm_ts[0])) / 1000 >= self.config.warmup_s

    def _fit(self) -> None:
        assert self._warm_values is not None and self._warm_ts is not None
        data = self._warm_values[: self._warm_count]
        times_s = self._warm_ts[: self._warm_count].astype(float) / 1000
        level = np.median(data, axis=0)
        deviation = np.abs(data - level)
        spread = np.maximum(
            1.4826 * np.median(deviation, axis=0), 1.2533 * np.mean(deviation, axis=0)
        )
        floor = self._spread_floor(level)
        if self.cadence.expected_ms is None:  # two running samples at least were heard
            self._timing(int(np.median(np.diff(times_s)) * 1000))
        else:
            self._timing(self.cadence.expected_ms)
        # The smoother's state at the end of the warm-up, on the same running median of
        # three as judged samples get (a glitch in the last warm-up reading must not pass).
        # In Python floats, as `update` does: row by row, numpy's per-call cost was most of
        # a 400-sample fit.
        rows, times = data.tolist(), times_s.tolist()
        smooth = rows[0]
        for i in range(1, len(rows)):
            filtered = median_of_three_rows(*rows[i - 2 : i + 1]) if i >= 2 else rows[i]
            alpha = self._alpha(times[i] - times[i - 1], self.smooth_s)
            smooth = [s + alpha * (f - s) for s, f in zip(smooth, filtered, strict=True)]
        self._recent.clear()
        self._recent.extend(rows[-2:])
        self.level = level.tolist()
        self.spread = np.maximum(spread, floor).tolist()
        self.smooth = list(smooth)
        self.last_ts = int(self._warm_ts[self._warm_count - 1])
        self._warm_values = self._warm_ts = None

    def _timing(self, interval_ms: int) -> None:
        """The time constants for a device reporting every `interval_ms`."""
        if interval_ms == self._timing_for:
            return
        c = self.config
        interval_s = max(interval_ms, 1) / 1000
        self._timing_for = interval_ms
        self.interval_s = interval_s
        self.smooth_s = max(c.smooth_s, c.min_smooth_samples * interval_s)
        self.baseline_s = max(c.baseline_s, c.min_baseline_samples * interval_s)
        self.gap_s = max(c.gap_intervals * interval_s, c.min_gap_s)

    def relearn(self, now_ms: int) -> None:
        """Forget the learnt operating point (a verified repair: a new bearing or impeller
        has its own normal) and learn it again from the next running samples."""
        self.level = self.spread = self.smooth = self.z = None
        self._warm_values = self._warm_ts = None
        self._warm_count = 0
        self._recent.clear()
        self.shift = None
        self.refused_since_ms = None
        self.persistence = Persistence(self.config.persist, self.config.clear_persist)

    def _spread_floor(self, level: np.ndarray | list[float]) -> np.ndarray:
        """Per signal: the allowance's share of the level over the threshold, or the minimal
        relative spread where no allowance is given."""
        assert self.signals is not None
        c = self.config
        relative = np.array(
            [
                c.drift_allowance[name] / c.threshold
                if name in c.drift_allowance
                else c.min_relative_spread
                for name in self.signals
            ]
        )
        return relative * np.maximum(np.abs(level), 1e-6)

    @staticmethod
    def _alpha(dt_s: float, tau_s: float) -> float:
        return 1.0 - math.exp(-max(dt_s, 0.0) / tau_s)

    def update(self, sample: Sample) -> list[Finding]:
        """Judge one sample. The per-signal arithmetic is on Python floats, not numpy
        vectors: with six signals, numpy's cost per call (about 15 calls a sample) was
        most of the work; each operation is the same IEEE operation in the same order, so
        the decisions are those of the arrays, bit for bit (tests/detectors/
        test_fast_paths.py). Measured on one pump after its warm-up (thread CPU time,
        best of 7, load average 3): 21 µs a judged sample before, 12 µs now."""
        if self.cadence.observe(sample.ts_ms):
            self.shift = None  # the device fell silent: a probation never spans a gap
        values = self._values(sample.metrics)
        if values is None:
            return []
        if self.level is None:
            if self._warm_values is None or self._warm_ts is None:
                self._warm_values = np.empty((self.warmup_samples, len(values)))
                self._warm_ts = np.empty(self.warmup_samples, dtype=np.int64)
            self._warm_values[self._warm_count] = values
            self._warm_ts[self._warm_count] = sample.ts_ms
            self._warm_count += 1
            if self._warm_count == self.warmup_samples or self._warm_long_enough(sample.ts_ms):
                self._fit()
            return []
        assert self.smooth is not None and self.spread is not None and self.last_ts is not None
        expected = self.cadence.expected_ms
        if expected is not None and expected != self._timing_for:
            self._timing(expected)
        ts = sample.ts_ms
        dt_s = (ts - self.last_ts) / 1000
        self.last_ts = max(self.last_ts, ts)
        gap = dt_s > self.gap_s
        recent = self._recent
        recent.append(values)
        alpha = self._alpha(dt_s, self.smooth_s)
        # each signal within its clear band follows slow drift (daily supply swings)
        beta = self._alpha(self.interval_s if gap else dt_s, self.baseline_s)
        level = self.level
        step = one_pass(recent, self.smooth, level, self.spread, alpha, beta)
        drifted: list[float] | None = None
        if step is None:  # a zero spread: numpy's infinities, as the arrays gave
            filtered = median_of_three_rows(*recent) if len(recent) == 3 else values
            smooth = self.smooth = [
                s + alpha * (f - s) for s, f in zip(self.smooth, filtered, strict=True)
            ]
            z = self.z = _deviations(smooth, level, self.spread)
            score = self._deviation()
        else:
            smooth, z, score, drifted = step
            self.smooth, self.z = smooth, z
        judged = self._judged_score(z, score, ts, recent)
        clear = score < self.clear_level
        fired = self.persistence.observe(judged >= self.threshold, ts, judged < self.clear_level)
        if clear and self.refused_since_ms is not None and not self.persistence.active:
            self.refused_since_ms = None
        if not self.persistence.active:
            # a signal off its level, or on probation, keeps the level it had
            if score < self.clear_level and self.shift is None:
                # the common case: every signal follows
                self.level = (
                    drifted
                    if drifted is not None
                    else [v + beta * (s - v) for s, v in zip(smooth, level, strict=True)]
                )
            else:
                follow = [abs(d) < self.clear_level for d in z]
                if self.shift is not None:
                    follow = [f and not m for f, m in zip(follow, self._mask(), strict=True)]
                self.level = [
                    v + (beta * (s - v) if f else 0.0)
                    for s, v, f in zip(smooth, level, follow, strict=True)
                ]
        if not fired:
            return []
        return [self._finding(ts, score)]

    # -- stable shifts -------------------------------------------------------------------

    def _mask(self) -> np.ndarray:
        """True for the signals a stable shift may move."""
        if self._shift_mask is None:
            assert self.signals is not None
            shift = set(self.config.shift_signals)
            self._shift_mask = np.array([name in shift for name in self.signals])
        return self._shift_mask

    def _judged_score(
        self, z: list[float], score: float, ts: int, recent: Sequence[list[float]]
    ) -> float:
        """The score the decision judges. An excursion of the shift signals alone (the
        others within the clear band) is put on probation, and the decision sees the other
        signals only until the probation's verdict: adopted (the shift signals' levels
        move), or refused (a fault: the whole score is judged from then on)."""
        if self.refused_since_ms is not None or self.persistence.active:
            return score
        if self.shift is None and score < self.threshold:
            return score  # the common case: nothing out, nothing on probation
        mask = self._mask()
        if not mask.any():
            return score
        others = float(np.max(np.abs(np.array(z)[~mask]), initial=0.0))
        probation = self.shift
        if probation is None:
            if score < self.threshold or others >= self.clear_level:
                return score
            probation = self.shift = ShiftProbation(ts, self._shift_span_ms(), int(mask.sum()))
        # the readings (median of three), not the smoothed values: the smoother's own
        # settling after a step must not read as a rise
        filtered = median_of_three_rows(*recent) if len(recent) == 3 else recent[-1]
        probation.add(ts, np.array(filtered)[mask])
        assert self.level is not None and self.smooth is not None
        level = np.array(self.level)[mask]
        off = np.abs(np.array(self.smooth)[mask] - level)
        if bool((off > self.config.max_shift * np.abs(level)).any()):
            self.shift, self.refused_since_ms = None, probation.first_ms  # too large a step
        elif probation.due(ts, self.config.min_shift_samples):
            self._verdict(probation)
        return others if self.shift is not None else score

    def _shift_span_ms(self) -> int:
        c = self.config
        return int(max(c.shift_s, c.min_shift_samples * self.interval_s) * 1000)

    def _verdict(self, probation: ShiftProbation) -> None:
        """Adopt a flat step as the new normal of the shift signals; refuse one that keeps
        rising or is too large (a fault); forget an excursion that went back."""
        assert self.level is not None and self.spread is not None
        c = self.config
        self.shift = None
        mask = self._mask()
        all_levels, all_spreads = np.array(self.level), np.array(self.spread)
        level, spread = all_levels[mask], all_spreads[mask]
        early, late = probation.halves()
        early_dev, late_dev = np.abs(early - level), np.abs(late - level)
        out = late_dev >= self.clear_level * spread
        if not out.any():
            return  # back within its normal band: a transient, neither adopted nor alarmed
        rising = late_dev - early_dev > c.shift_rise_spreads * spread
        too_large = late_dev > c.max_shift * np.maximum(np.abs(level), 1e-9)
        if bool((out & too_large).any()) or (bool((out & rising).any()) and probation.rose):
            self.refused_since_ms = probation.first_ms  # kept rising over two spans: a fault
            return
        if bool((out & rising).any()):
            # risen once: a step inside the span reads as a rise too; judged once more
            self.shift = ShiftProbation(
                probation.end_ms, self._shift_span_ms(), int(mask.sum()), probation.first_ms
            )
            return
        assert self.signals is not None
        names = [n for n, m in zip(self.signals, mask, strict=True) if m]
        for i in np.flatnonzero(out):
            self.shifts.append(
                {
                    "metric": names[i],
                    "at_ms": probation.first_ms,
                    "from": round(float(level[i]), 6),
                    "to": round(float(late[i]), 6),
                }
            )
        self.shifts = self.shifts[-5:]
        new_level = np.where(out, late, level)
        all_levels[mask] = new_level
        all_spreads[mask] = np.maximum(spread, self._spread_floor(all_levels)[mask])
        self.level, self.spread = all_levels.tolist(), all_spreads.tolist()

    def alarms(self, samples: Iterable[Sample]) -> list[bool]:
        """Feed a batch in order; the alarm state after each sample."""
        out = []
        for sample in samples:
            self.update(sample)
            out.append(self.alarm)
        return out

    def _finding(self, ts_ms: int, score: float) -> Finding:
        assert self.z is not None and self.signals is not None
        assert self.smooth is not None and self.level is not None and self.spread is not None
        worst = int(np.argmax(np.abs(self.z)))
        metric = self.signals[worst]
        direction = "above" if self.z[worst] > 0 else "below"
        onset = self.persistence.first_ms or ts_ms
        if self.refused_since_ms is not None:
            onset = min(onset, self.refused_since_ms)  # the excursion began on probation
        evidence_shifts = {"baseline_shifts": list(self.shifts)} if self.shifts else {}
        return self.finding(
            onset,
            f"pump off its normal operating point: {metric} {self.smooth[worst]:.4g} is "
            f"{abs(self.z[worst]):.1f} spreads {direction} its normal {self.level[worst]:.4g}",
            {
                "metric": metric,
                "value": round(float(self.smooth[worst]), 6),
                "baseline": round(float(self.level[worst]), 6),
                "spread": round(float(self.spread[worst]), 6),
                "score": round(score, 3),
                "threshold": self.threshold,
                "deviations": {
                    name: round(float(z), 3) for name, z in zip(self.signals, self.z, strict=True)
                },
                **evidence_shifts,
            },
            key=f"operating_point.{direction}",
            params={
                "metric": metric,
                "value": float(self.smooth[worst]),
                "spreads": float(abs(self.z[worst])),
                "baseline": float(self.level[worst]),
            },
        )


class ShiftProbation:
    """An excursion of the shift signals on trial: running sums of their smoothed values in
    the first and the second half of its span (bounded state at any cadence)."""

    def __init__(
        self, start_ms: int, span_ms: int, width: int, risen_since_ms: int | None = None
    ) -> None:
        self.start_ms = start_ms
        self.end_ms = start_ms
        self.span_ms = span_ms
        self.sums = np.zeros((2, width))
        self.counts = [0, 0]
        self.rose = risen_since_ms is not None  # the span before this one rose
        self.first_ms = start_ms if risen_since_ms is None else risen_since_ms

    def add(self, ts_ms: int, values: np.ndarray) -> None:
        self.end_ms = ts_ms
        half = 0 if ts_ms - self.start_ms < self.span_ms // 2 else 1
        self.sums[half] += values
        self.counts[half] += 1

    def due(self, ts_ms: int, min_samples: int) -> bool:
        """The span is over and it holds `min_samples`, at least two in each half (a pump
        that stops part of the time gives fewer samples: the second half goes on)."""
        enough = sum(self.counts) >= min_samples and min(self.counts) >= 2
        return ts_ms - self.start_ms >= self.span_ms and enough

    def halves(self) -> tuple[np.ndarray, np.ndarray]:
        return self.sums[0] / self.counts[0], self.sums[1] / self.counts[1]


def _is_number(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)
