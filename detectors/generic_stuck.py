"""Stuck (flat-lined) sensor, for every kind: a reading that is normally noisy repeats
exactly, sample after sample, while the device is active. A frozen ADC or transmitter, a
gateway re-sending its last cached value, a broken sensor cable read as the last good
value, firmware stuck in a loop. Every other detector on that signal is then blind, so
the monitoring itself has failed.

Per kind, only signals that are noisy whenever they are measured are watched (mains
voltage, vibration RMS, running current, a lock's actuation time), each only while it
is measured for real (voltage and current while the circuit or motor is on, the lock
time on samples with an actuation). Learning: over its first `learn_samples` active
samples, how often each signal changes from one sample to the next; a signal that
changes on fewer than `min_change_share` of them (a quantised or slow signal, as
several in SKAB's recordings are) is never judged, so that only a departure from the
signal's own habit counts. Score: the longest current run of identical values among the
judged signals. Decision: a run of at least `min_run` samples spanning `min_span_s`
seconds; re-armed once every judged signal has changed again on `clear_samples`
samples.
"""

from __future__ import annotations

import math
from typing import ClassVar, Final

from contract.finding import Finding, Severity
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag, number
from detectors.decision import Persistence

# kind -> (metric, gate): the gate names the boolean that must be true, or the count that
# must be positive, for the reading to be a live measurement (None: always).
STUCK_METRICS: Final[dict[str, tuple[tuple[str, str | None], ...]]] = {
    "elevator": (("car_vibration_rms_ms2", None), ("motor_current_a", None)),
    "lighting": (("voltage_v", "on"), ("current_a", "on")),
    "pump": (
        ("voltage_v", "running"),
        ("current_a", "running"),
        ("accelerometer1_rms_g", "running"),
        ("accelerometer2_rms_g", "running"),
    ),
    "access": (("lock_actuation_ms", "valid_credentials"),),
}


BOOLEAN_GATES: Final = frozenset({"on", "running"})
_INF: Final = math.inf


def gate_open(metrics: dict[str, MetricValue], gate: str | None) -> bool:
    """Is the reading a live measurement? The gate is a boolean that must be true (`on`,
    `running`), or a count that must be positive (`valid_credentials`); None: always."""
    if gate is None:
        return True
    state = flag(metrics, gate)
    if state is not None:
        return state
    count = number(metrics, gate)
    return count is not None and count > 0 and gate not in BOOLEAN_GATES


class _Track:
    __slots__ = ("changes", "last", "noisy", "pairs", "run", "run_start_ms")

    def __init__(self) -> None:
        self.last: float | None = None
        self.pairs = 0
        self.changes = 0
        self.noisy: bool | None = None  # learnt: is this signal normally noisy?
        self.run = 0
        self.run_start_ms = 0


class StuckSensorConfig(DetectorConfig):
    learn_samples: int = 50  # pairs of readings that tell whether a signal is noisy
    min_change_share: float = 0.9
    min_run: int = 30
    min_span_s: float = 600.0
    clear_samples: int = 10


class StuckSensorDetector(Detector):
    name: ClassVar[str] = "generic_stuck_sensor"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator", "lighting", "pump", "access"})
    fault_type: ClassVar[str] = "stuck_sensor"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[StuckSensorConfig]] = StuckSensorConfig
    config: StuckSensorConfig

    def __init__(self, device: DeviceRef, config: StuckSensorConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.metrics = STUCK_METRICS.get(device.kind, ())
        self.learn_samples = c.learn_samples
        self.min_change_share = c.min_change_share
        self.min_run = c.min_run
        self.min_span_ms = int(c.min_span_s * 1000)
        self.persistence = Persistence(1, c.clear_samples)
        self.tracks = {metric: _Track() for metric, _ in self.metrics}
        self.worst: tuple[str, float, int, int] | None = None  # metric, value, run, start
        self._learnt = False  # has any track learnt whether it is noisy?

    @property
    def learnt(self) -> bool:
        return self._learnt

    def score(self, now_ms: int) -> float | None:
        """Longest current run of identical values among the judged signals (None until a
        signal has learnt whether it is noisy)."""
        if not self.learnt:
            return None
        return float(max((t.run for t in self.tracks.values() if t.noisy), default=0))

    def _observe(self, track: _Track, value: float, ts_ms: int) -> None:
        if track.last is not None:
            same = value == track.last
            if track.noisy is None:
                track.pairs += 1
                track.changes += not same
                if track.pairs >= self.learn_samples:
                    track.noisy = track.changes >= self.min_change_share * track.pairs
                    self._learnt = True
            if same:
                track.run += 1
            else:
                track.run, track.run_start_ms = 1, ts_ms
        else:
            track.run, track.run_start_ms = 1, ts_ms
        track.last = value

    def update(self, sample: Sample) -> list[Finding]:
        judged = False
        metrics = sample.metrics
        ts_ms = sample.ts_ms
        tracks = self.tracks
        for metric, gate in self.metrics:
            value = metrics.get(metric)
            if type(value) is not float or not -_INF < value < _INF:  # the common case inline
                value = number(metrics, metric)
                if value is None:
                    continue
            if gate is not None:
                state = metrics.get(gate)
                if state is not True and (state is False or not gate_open(metrics, gate)):
                    continue
            track = tracks[metric]
            last = track.last
            if last is not None and track.noisy is not None:
                # `_observe` of a learnt track, inline: the path of nearly every reading
                if value == last:
                    track.run += 1
                else:
                    track.run, track.run_start_ms = 1, ts_ms
                track.last = value
            else:
                self._observe(track, value, ts_ms)
            judged = True
        if not judged or not self._learnt:
            return []
        # One pass: the longest qualifying run (the first on a tie), and whether every
        # judged signal is moving.
        worst: tuple[str, _Track] | None = None
        moving = True
        min_run = self.min_run
        for metric, t in tracks.items():
            if not t.noisy:
                continue
            run = t.run
            if run >= 3:
                moving = False
            if (
                run >= min_run
                and ts_ms - t.run_start_ms >= self.min_span_ms
                and (worst is None or run > worst[1].run)
            ):
                worst = (metric, t)
        if worst is not None:
            metric, track = worst
            self.worst = (metric, track.last or 0.0, track.run, track.run_start_ms)
        if not self.persistence.observe(worst is not None, sample.ts_ms, moving):
            return []
        assert self.worst is not None
        metric, value, run, start = self.worst
        return [
            self.finding(
                start,
                f"{metric} stuck at exactly {value:g} for {run} samples "
                f"({(sample.ts_ms - start) / 60_000:.0f} min): sensor or transmitter frozen",
                {
                    "metric": metric,
                    "value": value,
                    "run_samples": run,
                    "run_s": (sample.ts_ms - start) / 1000,
                    "threshold": self.min_run,
                    "threshold_s": self.min_span_ms / 1000,
                },
                key="stuck",
                params={
                    "metric": metric,
                    "value": value,
                    "samples": run,
                    "minutes": (sample.ts_ms - start) / 60_000,
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if not self.learnt:
            return None
        return self.persistence.active
