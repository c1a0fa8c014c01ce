"""How far a healthy pump's operating point wanders: the pump detector's drift allowance,
measured on fault-free recordings (SKAB's `anomaly-free/`), never on labelled ones.

A detector fitted on 400 rows (SKAB's protocol) learns the sensors' short-term noise,
not the slow wander of the operating point over the next quarter of an hour; on SKAB's
anomaly-free recording that wander is ten times the noise. The allowance of a signal is
a high quantile of that wander relative to the level, measured exactly as the detector
sees it: a fit window of `fit_rows` rows slides over each fault-free recording in steps
of `step_rows`; after each fit the detector's own smoothed signal is followed for
`horizon_rows` rows (about a SKAB test file's scored length) with the level frozen, and
every |smoothed - level| / |level| is collected.

The quantile is 99.5 %: with 99 %, the allowance measured on one half of SKAB's
anomaly-free recording let 43 % of the other half be alarmed (its flow steps up by 2-3 %
within minutes); with 99.5 % both halves stay under 9 % (`facmon evaluate skab` prints
both folds). A single recording is a small sample of a pump's wander: the margin is for
that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.pump_multivariate import PumpMultivariateConfig, PumpMultivariateDetector

QUANTILE: Final = 0.995
HORIZON_ROWS: Final = 750
STEP_ROWS: Final = 100

Recording = tuple[Sequence[int], Sequence[dict[str, float]]]  # timestamps (ms), rows


def wander(
    recording: Recording,
    fit_rows: int,
    horizon_rows: int = HORIZON_ROWS,
    step_rows: int = STEP_ROWS,
) -> tuple[tuple[str, ...], np.ndarray]:
    """The relative deviations of every signal after every fit window: (signals, rows x
    signals). Empty when the recording is shorter than one fit window and a horizon."""
    ts_ms, rows = recording
    device = DeviceRef("calibration", "testbed", "pump", "calibration-pump")
    # Judging nothing and following no drift: only the smoother runs after the fit.
    config = PumpMultivariateConfig(
        warmup_samples=fit_rows, threshold=math.inf, baseline_s=math.inf
    )
    signals: tuple[str, ...] = ()
    found: list[np.ndarray] = []
    for start in range(0, len(rows) - fit_rows - horizon_rows + 1, step_rows):
        detector = PumpMultivariateDetector(device, config)
        for seq in range(start, start + fit_rows + horizon_rows):
            detector.update(Sample(device, ts_ms[seq], seq, dict(rows[seq])))
            if detector.smooth is not None and seq >= start + fit_rows:
                assert detector.level is not None
                smooth, level = np.asarray(detector.smooth), np.asarray(detector.level)
                found.append(np.abs(smooth - level) / np.abs(level))
        signals = detector.signals or signals
    if not found:
        return signals, np.empty((0, len(signals)))
    return signals, np.array(found)


def drift_allowance(
    recordings: Sequence[Recording],
    fit_rows: int,
    quantile: float = QUANTILE,
    horizon_rows: int = HORIZON_ROWS,
    step_rows: int = STEP_ROWS,
) -> dict[str, float]:
    """Per signal: the `quantile` of the relative wander over all fault-free recordings
    (empty when none is long enough). A signal whose level is 0 gets no allowance."""
    signals: tuple[str, ...] = ()
    parts = []
    for recording in recordings:
        names, values = wander(recording, fit_rows, horizon_rows, step_rows)
        if len(values):
            if signals and names != signals:
                raise ValueError("fault-free recordings carry different signals")
            signals = names
            parts.append(values)
    if not parts:
        return {}
    data = np.concatenate(parts)
    out = {}
    for i, name in enumerate(signals):
        column = data[:, i]
        column = column[np.isfinite(column)]
        if len(column):
            out[name] = round(float(np.quantile(column, quantile)), 5)
    return out
