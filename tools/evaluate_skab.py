"""`facmon evaluate skab`: the pump detector judged on SKAB under the benchmark's protocol.

SKAB (Skoltech Anomaly Benchmark) records a water-circulation rig driven by a
centrifugal pump; each labelled file holds one fault episode. The protocol
(`../shared/datasets/skab/README.md`): for every labelled file, the detector
learns on the first 400 rows (here: its warm-up) and the remaining rows are
scored. Rows are fed one at a time, as `Sample`s, through
`PumpMultivariateDetector.update`; nothing from the future is seen.

Figures, micro-averaged over all labelled files (TP, FP, FN, TN summed first):

- point-wise F1 = TP / (TP + (FP + FN) / 2), FAR % = 100 FP / (FP + TN),
  MAR % = 100 FN / (FN + TP); the prediction of a row is the detector's alarm
  state after that row. `baseline_f1` is the F1 of flagging every scored row.
- changepoint NAB scores (standard, low-FP, low-FN), as in SKAB's own scorer
  (the `tsad` library): a window of 60 s to the right of each true changepoint
  (overlapping windows: the right one starts where the left one ends); the
  first detection in a window earns A_tp at the window start falling along a
  tanh curve to A_fp at its end, each detection outside every window costs
  A_fp, each window without a detection costs A_fn; the sums over all files are
  normalised so that 0 = no detections and 100 = perfect. A predicted
  changepoint is, as in SKAB's notebooks (`abs(prediction.diff())`), a row where
  the alarm switches on *or off* (SKAB labels the end of an episode as a
  changepoint too). `nab_onsets_only` scores alarm switch-ons alone.
- median detection delay: per anomaly segment, seconds from its first row to
  the first alarmed row inside it; missed segments are counted, not timed.

Calibration (never from labels): files without label columns (SKAB's
`anomaly-free/`) are the fault-free recordings. From them the detector's drift
allowance is measured (`tools/skab_calibration.py`: how far a healthy operating
point wanders after a 400-row fit, relative to its level, 99.5th percentile), and
every file is then judged with its own first 400 rows plus that allowance.
SKAB's `anomaly-free.csv` ends with 572 rows copied from the start of another
SKAB recording: they are left out of the calibration.

The fault-free files cannot enter the labelled figures; they are judged like a
test file (fit on their own first 400 rows, every later row counts as normal)
and their alarm rate is reported apart: `unlabelled_far` with the allowance
measured on the same files (in-sample), and held out in two folds
(`unlabelled_far_folds`): the allowance measured on the first half of each
fault-free file and the second half judged as a test file of its own (fit on its
first 400 rows), then the other way round; `unlabelled_far_held_out` is the worse.
`--no-calibration` judges with no allowance (each file's 400 rows alone).

`--predictions DIR` writes, per input file (same relative path), the scored
rows as `datetime;predicted_anomaly;predicted_changepoint`, so that the figures
can be recomputed by an independent scorer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.pump_multivariate import PumpMultivariateConfig, PumpMultivariateDetector
from tools.skab_calibration import QUANTILE, Recording, drift_allowance

FIT_ROWS: Final = 400
NAB_WINDOW_S: Final = 60.0
# (A_tp, A_fp, A_fn) per profile, as in SKAB's scorer.
NAB_PROFILES: Final[dict[str, tuple[float, float, float]]] = {
    "standard": (1.0, -0.11, -1.0),
    "low_fp": (1.0, -0.22, -1.0),
    "low_fn": (1.0, -0.11, -2.0),
}
_NAB_STEPS: Final = 1000  # the scorer samples its tanh curve at this many points

# SKAB column -> contract metric of kind pump (contract/topics.py).
SKAB_COLUMNS: Final[dict[str, str]] = {
    "Accelerometer1RMS": "accelerometer1_rms_g",
    "Accelerometer2RMS": "accelerometer2_rms_g",
    "Current": "current_a",
    "Pressure": "pressure_bar",
    "Temperature": "motor_temperature_c",
    "Thermocouple": "fluid_temperature_c",
    "Voltage": "voltage_v",
    "Volume Flow RateRMS": "flow_rate_lpm",
}
LABEL_COLUMNS: Final = ("anomaly", "changepoint")
TIME_COLUMN: Final = "datetime"
PREDICTIONS_HEADER: Final = "datetime;predicted_anomaly;predicted_changepoint"
# Rows at the end of a fault-free file copied from another SKAB recording (its README).
COPIED_TAIL_ROWS: Final[dict[str, int]] = {"anomaly-free.csv": 572}
# SKAB's published results on the full benchmark (F1, FAR %, MAR %), from its README.
PUBLISHED: Final[tuple[tuple[str, float, float, float], ...]] = (
    ("Conv-AE", 0.78, 13.55, 28.02),
    ("MSET", 0.78, 39.73, 14.13),
    ("PCA T²+Q", 0.76, 26.62, 24.92),
    ("LSTM-AE", 0.74, 29.96, 25.92),
    ("Isolation forest", 0.29, 2.56, 82.89),
)


class SkabDataError(ValueError):
    """The data folder or a file in it cannot be used; the text says which file and line."""


# -- reading --------------------------------------------------------------------------


@dataclass
class SkabFile:
    """One SKAB recording: timestamps (epoch ms), the raw datetime text, metrics per row
    (contract names) and, for labelled files, the anomaly and changepoint labels."""

    name: str  # path relative to the data folder, with '/' separators
    times: list[str]
    ts_ms: list[int]
    rows: list[dict[str, float]]
    anomaly: list[int] | None = None
    changepoint: list[int] | None = None

    @property
    def labelled(self) -> bool:
        return self.anomaly is not None


def _parse_time(text: str) -> int:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:  # SKAB's clock has no zone: read it as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _parse_label(text: str, where: str, column: str) -> int:
    value = float(text)
    if value not in (0.0, 1.0):
        raise SkabDataError(f"{where}: {column} must be 0 or 1, got {text!r}")
    return int(value)


def read_skab_csv(path: Path, name: str | None = None) -> SkabFile:
    """Parse one `;`-separated SKAB file; a malformed one raises `SkabDataError` naming
    the file and line."""
    name = name or path.name
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkabDataError(f"{name}: cannot read: {exc}") from None
    if not lines or not lines[0].strip():
        raise SkabDataError(f"{name} line 1: empty file, expected a SKAB header")
    header = [h.strip() for h in lines[0].split(";")]
    missing = [c for c in (TIME_COLUMN, *SKAB_COLUMNS) if c not in header]
    if missing:
        raise SkabDataError(
            f"{name} line 1: not a SKAB header, missing column(s) {', '.join(missing)}"
        )
    has_labels = [c in header for c in LABEL_COLUMNS]
    if any(has_labels) and not all(has_labels):
        raise SkabDataError(f"{name} line 1: needs both label columns {LABEL_COLUMNS} or none")
    labelled = all(has_labels)
    index = {column: header.index(column) for column in header}
    data = SkabFile(name, [], [], [], [] if labelled else None, [] if labelled else None)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        fields = [f.strip() for f in line.split(";")]
        if len(fields) != len(header):
            raise SkabDataError(f"{where}: expected {len(header)} fields, got {len(fields)}")
        try:
            ts_ms = _parse_time(fields[index[TIME_COLUMN]])
        except ValueError:
            raise SkabDataError(
                f"{where}: datetime {fields[index[TIME_COLUMN]]!r} is not a date and time"
            ) from None
        if data.ts_ms and ts_ms <= data.ts_ms[-1]:
            raise SkabDataError(f"{where}: datetime does not increase")
        row: dict[str, float] = {}
        for column, metric in SKAB_COLUMNS.items():
            text = fields[index[column]]
            try:
                value = float(text)
            except ValueError:
                raise SkabDataError(f"{where}: {column} {text!r} is not a number") from None
            if not math.isfinite(value):
                raise SkabDataError(f"{where}: {column} {text!r} is not finite")
            row[metric] = value
        if data.anomaly is not None and data.changepoint is not None:
            try:
                data.anomaly.append(_parse_label(fields[index["anomaly"]], where, "anomaly"))
                data.changepoint.append(
                    _parse_label(fields[index["changepoint"]], where, "changepoint")
                )
            except ValueError as exc:
                if isinstance(exc, SkabDataError):
                    raise
                raise SkabDataError(f"{where}: a label is not a number") from None
        data.times.append(fields[index[TIME_COLUMN]])
        data.ts_ms.append(ts_ms)
        data.rows.append(row)
    if len(data.rows) <= FIT_ROWS:
        raise SkabDataError(
            f"{name}: {len(data.rows)} data rows, the protocol needs more than {FIT_ROWS} "
            f"(the first {FIT_ROWS} are for fitting)"
        )
    return data


def find_skab_files(root: Path) -> list[Path]:
    """Every `*.csv` under `root` (any depth), in a stable natural order."""
    if not root.exists():
        raise SkabDataError(f"data folder {root} does not exist")
    if not root.is_dir():
        raise SkabDataError(f"{root} is not a folder")
    files = [p for p in root.rglob("*.csv") if p.is_file()]
    if not files:
        raise SkabDataError(f"no SKAB CSV files under {root} (expected e.g. valve1/0.csv)")

    def natural(path: Path) -> list[Any]:
        parts = path.relative_to(root).with_suffix("").parts
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]

    return sorted(files, key=natural)


# -- running the detector ------------------------------------------------------------

DetectorFactory = Callable[[DeviceRef], PumpMultivariateDetector]


def _default_factory(device: DeviceRef) -> PumpMultivariateDetector:
    return PumpMultivariateDetector(device, PumpMultivariateConfig(warmup_samples=FIT_ROWS))


def calibrated_factory(allowance: dict[str, float]) -> DetectorFactory:
    """Detectors fitting on `FIT_ROWS` rows with the given drift allowance."""
    config = PumpMultivariateConfig(warmup_samples=FIT_ROWS, drift_allowance=allowance)

    def factory(device: DeviceRef) -> PumpMultivariateDetector:
        return PumpMultivariateDetector(device, config)

    return factory


def calibration_recording(data: SkabFile, part: slice = slice(None)) -> Recording:
    """The rows of a fault-free file usable for calibration (a copied tail left out)."""
    usable = len(data.rows) - COPIED_TAIL_ROWS.get(Path(data.name).name, 0)
    return data.ts_ms[:usable][part], data.rows[:usable][part]


Fold = tuple[Recording, SkabFile]  # calibrate on the recording, judge the file


def halves(data: SkabFile) -> tuple[Fold, Fold]:
    """A fault-free file's two folds: calibrate on its first half and judge its second half
    as a test file (as recorded, a copied tail included), and the other way round."""
    usable = len(data.rows) - COPIED_TAIL_ROWS.get(Path(data.name).name, 0)
    mid = usable // 2
    first = SkabFile(
        f"{data.name} (first half)", data.times[:mid], data.ts_ms[:mid], data.rows[:mid]
    )
    second = SkabFile(
        f"{data.name} (second half)", data.times[mid:], data.ts_ms[mid:], data.rows[mid:]
    )
    return (
        (calibration_recording(data, slice(0, mid)), second),
        (calibration_recording(data, slice(mid, None)), first),
    )


@dataclass
class FilePrediction:
    """The scored rows of one file (those after the fit rows) and the detector's verdicts."""

    name: str
    times: list[str]
    ts_ms: list[int]
    predicted: list[int]  # alarm state after each row
    anomaly: list[int] | None
    changepoint: list[int] | None

    @property
    def predicted_changepoints(self) -> list[int]:
        return changepoints_of(self.predicted)


def run_detector(data: SkabFile, factory: DetectorFactory = _default_factory) -> FilePrediction:
    """Feed every row, in order, to a fresh detector; keep the verdicts of the scored rows."""
    device = DeviceRef("skab", "testbed", "pump", "skab-pump")
    detector = factory(device)
    predicted: list[int] = []
    for seq, (ts_ms, row) in enumerate(zip(data.ts_ms, data.rows, strict=True)):
        detector.update(Sample(device, ts_ms, seq, dict(row)))
        if seq >= FIT_ROWS:
            predicted.append(int(detector.alarm))
    return FilePrediction(
        name=data.name,
        times=data.times[FIT_ROWS:],
        ts_ms=data.ts_ms[FIT_ROWS:],
        predicted=predicted,
        anomaly=data.anomaly[FIT_ROWS:] if data.anomaly is not None else None,
        changepoint=data.changepoint[FIT_ROWS:] if data.changepoint is not None else None,
    )


def write_predictions(prediction: FilePrediction, out_root: Path) -> Path:
    path = out_root / prediction.name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [PREDICTIONS_HEADER]
    for text, anomaly, change in zip(
        prediction.times, prediction.predicted, prediction.predicted_changepoints, strict=True
    ):
        lines.append(f"{text};{anomaly};{change}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- metrics --------------------------------------------------------------------------


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, true: Sequence[int], predicted: Sequence[int]) -> None:
        if len(true) != len(predicted):
            raise ValueError("labels and predictions differ in length")
        for t, p in zip(true, predicted, strict=True):
            if t and p:
                self.tp += 1
            elif p:
                self.fp += 1
            elif t:
                self.fn += 1
            else:
                self.tn += 1

    @property
    def f1(self) -> float:
        denominator = self.tp + (self.fp + self.fn) / 2
        return self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        """False alarm rate, %."""
        normal = self.fp + self.tn
        return 100.0 * self.fp / normal if normal else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate, %."""
        anomalous = self.fn + self.tp
        return 100.0 * self.fn / anomalous if anomalous else 0.0


def changepoints_of(predicted: Sequence[int]) -> list[int]:
    """SKAB's convention: 1 where the alarm state changes (on or off); the first row
    counts as a change if the alarm is already on there."""
    out = []
    previous = 0
    for value in predicted:
        out.append(int(value != previous))
        previous = value
    return out


def onsets_of(predicted: Sequence[int]) -> list[int]:
    """1 only where the alarm switches on."""
    return [int(v and not p) for v, p in zip(predicted, [0, *predicted[:-1]], strict=True)]


def nab_windows(changepoint_ts_ms: Sequence[int], width_ms: float) -> list[tuple[float, float]]:
    """A window [t, t + width] right of each true changepoint; where two overlap the right
    one is cut to start at the end of the left one (the scorer's 'cut right window')."""
    windows = [[float(t), float(t) + width_ms] for t in sorted(changepoint_ts_ms)]
    for left, right in itertools.pairwise(windows):
        if left[1] >= right[0]:
            right[0] = left[1]
    return [(start, end) for start, end in windows]


def _tanh_weight(position: float, a_tp: float, a_fp: float) -> float:
    """Score of a detection at `position` (0 = window start, 1 = window end): A_tp at the
    start, A_fp at the end, along tanh; sampled at the scorer's 1000 points."""
    index = min(int(position * _NAB_STEPS), _NAB_STEPS - 1)
    x = -math.pi / 2 + math.pi * index / (_NAB_STEPS - 1)
    return (a_tp - a_fp) / 2 * -math.tanh(x) / math.tanh(math.pi / 2) + (a_tp - a_fp) / 2 + a_fp


def nab_file_score(
    windows: Sequence[tuple[float, float]],
    detections_ms: Sequence[int],
    profile: tuple[float, float, float],
) -> tuple[float, float, float]:
    """(score, null score, perfect score) of one file for one profile (A_tp, A_fp, A_fn)."""
    a_tp, a_fp, a_fn = profile
    detections = sorted(detections_ms)
    score = 0.0
    for t in detections:  # outside every window: a false positive
        if not any(start <= t <= end for start, end in windows):
            score += a_fp
    for start, end in windows:
        inside = [t for t in detections if start <= t <= end]
        if not inside:
            score += a_fn
        else:
            position = (inside[0] - start) / (end - start) if end > start else 0.0
            score += _tanh_weight(position, a_tp, a_fp)
    return score, len(windows) * a_fn, len(windows) * a_tp


def nab_scores(
    per_file: Iterable[tuple[Sequence[tuple[float, float]], Sequence[int]]],
) -> dict[str, float]:
    """Normalised NAB score per profile over files of (windows, detection times):
    100 * (S - S_null) / (S_perfect - S_null), with the sums taken over all files."""
    items = list(per_file)
    out: dict[str, float] = {}
    for profile_name, profile in NAB_PROFILES.items():
        score = null = perfect = 0.0
        for windows, detections in items:
            s, n, p = nab_file_score(windows, detections, profile)
            score, null, perfect = score + s, null + n, perfect + p
        out[profile_name] = 100.0 * (score - null) / (perfect - null) if perfect != null else 0.0
    return out


def detection_delays_s(
    ts_ms: Sequence[int], anomaly: Sequence[int], predicted: Sequence[int]
) -> list[float | None]:
    """Per anomaly segment (a run of anomaly = 1): seconds from its first row to the first
    alarmed row inside it, or None if no row of it is alarmed."""
    delays: list[float | None] = []
    start: int | None = None
    found: float | None = None
    for i, (t, a, p) in enumerate(zip(ts_ms, anomaly, predicted, strict=True)):
        if a and start is None:
            start, found = i, None
        if a and p and found is None and start is not None:
            found = (t - ts_ms[start]) / 1000.0
        if not a and start is not None:
            delays.append(found)
            start = None
    if start is not None:
        delays.append(found)
    return delays


# -- the whole evaluation --------------------------------------------------------------

NabItem = tuple[list[tuple[float, float]], list[int]]  # one file: windows, detection times


@dataclass
class Evaluation:
    files: list[str] = field(default_factory=list)
    unlabelled_files: list[str] = field(default_factory=list)
    rows: int = 0  # scored rows of labelled files
    confusion: Confusion = field(default_factory=Confusion)
    unlabelled: Confusion = field(default_factory=Confusion)
    nab_items: list[NabItem] = field(default_factory=list)
    nab_onset_items: list[NabItem] = field(default_factory=list)
    delays: list[float | None] = field(default_factory=list)

    def add(self, prediction: FilePrediction) -> None:
        if prediction.anomaly is None or prediction.changepoint is None:
            self.unlabelled_files.append(prediction.name)
            self.unlabelled.add([0] * len(prediction.predicted), prediction.predicted)
            return
        self.files.append(prediction.name)
        self.rows += len(prediction.predicted)
        self.confusion.add(prediction.anomaly, prediction.predicted)
        true_cp = [t for t, c in zip(prediction.ts_ms, prediction.changepoint, strict=True) if c]
        windows = nab_windows(true_cp, NAB_WINDOW_S * 1000)
        changes = prediction.predicted_changepoints
        detected = [t for t, c in zip(prediction.ts_ms, changes, strict=True) if c]
        onsets = [
            t for t, c in zip(prediction.ts_ms, onsets_of(prediction.predicted), strict=True) if c
        ]
        self.nab_items.append((windows, detected))
        self.nab_onset_items.append((windows, onsets))
        self.delays.extend(
            detection_delays_s(prediction.ts_ms, prediction.anomaly, prediction.predicted)
        )

    def report(self) -> dict[str, Any]:
        c = self.confusion
        labelled = bool(self.files)
        anomalous, normal = c.tp + c.fn, c.fp + c.tn
        baseline = Confusion(tp=anomalous, fp=normal)
        nab = nab_scores(self.nab_items) if labelled else {}
        onsets = nab_scores(self.nab_onset_items) if labelled else {}
        timed = [d for d in self.delays if d is not None]

        def rounded(value: float | None, digits: int) -> float | None:
            return None if value is None or not labelled else round(value, digits)

        return {
            "f1": rounded(c.f1, 3),
            "far": rounded(c.far, 2),
            "mar": rounded(c.mar, 2),
            "baseline_f1": rounded(baseline.f1, 3),
            "nab_standard": rounded(nab.get("standard"), 2),
            "nab_low_fp": rounded(nab.get("low_fp"), 2),
            "nab_low_fn": rounded(nab.get("low_fn"), 2),
            "median_delay_s": round(statistics.median(timed), 1) if timed else None,
            "anomalies": len(self.delays),
            "missed_anomalies": sum(d is None for d in self.delays),
            "nab_onsets_only": {k: round(v, 2) for k, v in onsets.items()},
            "tp": c.tp,
            "fp": c.fp,
            "fn": c.fn,
            "tn": c.tn,
            "files": len(self.files),
            "rows": self.rows,
            "unlabelled_files": len(self.unlabelled_files),
            "unlabelled_rows": self.unlabelled.fp + self.unlabelled.tn,
            "unlabelled_far": round(self.unlabelled.far, 2) if self.unlabelled_files else None,
            "unlabelled_far_held_out": None,
            "unlabelled_far_folds": [],
            "drift_allowance": {},
            "calibration_quantile": QUANTILE,
            "fit_rows": FIT_ROWS,
            "nab_window_s": NAB_WINDOW_S,
            "detector": f"{PumpMultivariateDetector.name} v{PumpMultivariateDetector.version}",
        }


def evaluate_skab(
    root: Path,
    predictions_dir: Path | None = None,
    factory: DetectorFactory | None = None,
    progress: Callable[[str], None] | None = None,
    calibrate: bool = True,
) -> dict[str, Any]:
    """Run the detector on every SKAB file under `root` and return the figures. Unless a
    factory is given, the detectors get the drift allowance measured on the fault-free
    files (with `calibrate`)."""
    paths = find_skab_files(root)
    files = [read_skab_csv(path, path.relative_to(root).as_posix()) for path in paths]
    fault_free = [data for data in files if not data.labelled]
    allowance: dict[str, float] = {}
    folds: list[float | None] = []
    if factory is None:
        if calibrate and fault_free:
            allowance = drift_allowance([calibration_recording(d) for d in fault_free], FIT_ROWS)
            folds = _held_out_fars(fault_free)
        factory = calibrated_factory(allowance)
    evaluation = Evaluation()
    for number, data in enumerate(files, start=1):
        name = data.name
        prediction = run_detector(data, factory)
        evaluation.add(prediction)
        if predictions_dir is not None:
            write_predictions(prediction, predictions_dir)
        if progress is not None:
            kind = "labelled" if data.labelled else "unlabelled"
            progress(
                f"[{number}/{len(paths)}] {name}: {len(prediction.predicted)} rows scored "
                f"({kind}), {sum(prediction.predicted)} alarmed"
            )
    report = evaluation.report()
    report["drift_allowance"] = allowance
    known = [far for far in folds if far is not None]
    report["unlabelled_far_held_out"] = max(known) if known else None
    report["unlabelled_far_folds"] = folds
    return report


def _held_out_fars(fault_free: list[SkabFile]) -> list[float | None]:
    """Alarm rate (%) of each fold: the fault-free files' second halves judged as test
    files with the allowance measured on their first halves only, then the other way."""
    split = [halves(data) for data in fault_free]
    out: list[float | None] = []
    for fold in (0, 1):
        allowance = drift_allowance([folds[fold][0] for folds in split], FIT_ROWS)
        judged = Confusion()
        for folds in split:
            test = folds[fold][1]
            if len(test.rows) > FIT_ROWS:
                predicted = run_detector(test, calibrated_factory(allowance)).predicted
                judged.add([0] * len(predicted), predicted)
        out.append(round(judged.far, 2) if judged.fp + judged.tn else None)
    return out


def format_report(report: dict[str, Any]) -> str:
    def show(value: Any, unit: str = "") -> str:
        return "n/a" if value is None else f"{value}{unit}"

    lines = [
        f"SKAB, {report['detector']}: {report['files']} labelled files, "
        f"{report['rows']} scored rows (first {report['fit_rows']} rows of each file fit)",
    ]
    if report["files"]:
        onsets = report["nab_onsets_only"]
        lines += [
            f"  F1 {show(report['f1'])}   FAR {show(report['far'], ' %')}   "
            f"MAR {show(report['mar'], ' %')}   "
            f"(TP {report['tp']}, FP {report['fp']}, FN {report['fn']}, TN {report['tn']})",
            f"  all-alarms baseline F1 {show(report['baseline_f1'])} (FAR 100 %)",
            f"  NAB standard {show(report['nab_standard'])}   low-FP {show(report['nab_low_fp'])}"
            f"   low-FN {show(report['nab_low_fn'])}   "
            f"({report['nab_window_s']:g} s windows; detections = alarm on or off)",
            f"  NAB, alarm onsets only: standard {onsets['standard']}   "
            f"low-FP {onsets['low_fp']}   low-FN {onsets['low_fn']}",
            f"  median detection delay {show(report['median_delay_s'], ' s')} over "
            f"{report['anomalies'] - report['missed_anomalies']} of {report['anomalies']} "
            f"anomalies ({report['missed_anomalies']} missed)",
        ]
    else:
        lines.append("  no labelled files: F1, FAR, MAR and NAB need SKAB's label columns")
    allowance = report["drift_allowance"]
    if allowance:
        shown = ", ".join(f"{name} {100 * value:.2f} %" for name, value in allowance.items())
        lines.append(
            f"  drift allowance from the fault-free files "
            f"(q{100 * report['calibration_quantile']:g} of relative wander): {shown}"
        )
    else:
        lines.append("  no drift allowance (no fault-free file, or --no-calibration)")
    if report["unlabelled_files"]:
        lines.append(
            f"  fault-free files: {report['unlabelled_files']} ({report['unlabelled_rows']} "
            f"scored rows, all normal, fit on their own first {report['fit_rows']} rows): "
            f"alarmed {report['unlabelled_far']} %"
            + (" (allowance measured on the same files)" if allowance else "")
        )
        if report["unlabelled_far_held_out"] is not None:
            second, first = (show(far, " %") for far in report["unlabelled_far_folds"])
            lines.append(
                f"  held out, each half of the fault-free files judged as a test file with the "
                f"allowance measured on the other half: second half alarmed {second}, first "
                f"half {first}; worse {report['unlabelled_far_held_out']} %"
            )
    lines.append("  SKAB's published results on the full benchmark (F1 / FAR % / MAR %):")
    lines += [
        f"    {name:<17} {f1:.2f} / {far:.2f} / {mar:.2f}" for name, f1, far, mar in PUBLISHED
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `facmon evaluate skab`."""
    parser.add_argument(
        "--data", required=True, help="a folder laid out like SKAB's data/ (or any subfolder)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--predictions", help="write each file's scored-row predictions as CSV under this folder"
    )
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="no drift allowance from the fault-free files: each file's first rows alone",
    )


def cmd_evaluate_skab(args: argparse.Namespace) -> int:
    root = Path(args.data)
    out = Path(args.predictions) if getattr(args, "predictions", None) else None
    started = time.monotonic()

    def progress(text: str) -> None:
        print(f"[skab] {text}", file=sys.stderr, flush=True)

    try:
        calibrate = not getattr(args, "no_calibration", False)
        report = evaluate_skab(root, out, progress=progress, calibrate=calibrate)
    except SkabDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["runtime_s"] = round(time.monotonic() - started, 2)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
        if out is not None:
            print(f"  predictions written under {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.evaluate_skab --data DIR`, the same as `facmon evaluate skab`."""
    parser = argparse.ArgumentParser(prog="facmon evaluate skab", description=__doc__)
    add_arguments(parser)
    return cmd_evaluate_skab(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
