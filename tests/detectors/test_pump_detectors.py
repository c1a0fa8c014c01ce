"""Tables for the pump detectors beyond bearing wear and the multivariate anomaly:
cavitation, dry running and leakage. Each fault must also leave the *other* pump faults'
detectors silent where the physics differs (a worn bearing is not cavitation, a leak is
not dry running ...).

Each row feeds a seeded full-metric pump series (`series.pump_rows`, the simulator's
levels and noise) to a fresh detector with its default parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Severity
from contract.payload import Event
from detectors.base import Detector
from detectors.pump_cavitation import CavitationDetector
from detectors.pump_dry_running import DryRunningDetector
from detectors.pump_leakage import LeakageDetector
from tests.detectors.series import (
    PERIOD_MS,
    T0,
    Case,
    Metrics,
    apply,
    case_samples,
    change,
    check_table_case,
    device,
    feed,
    pump_rows,
    samples,
)

PUMP = device("pump")
H = 300  # healthy running samples before a fault: settle, warm-up and windows are full

Shape = Callable[[int, Metrics], None]


def _scale(**factors: float) -> Shape:
    def fn(_: int, row: Metrics) -> None:
        for name, factor in factors.items():
            row[name] = round(float(row[name]) * factor, 5)

    return fn


def _cavitating(seed: int = 0) -> Shape:
    """The simulator's cavitation at intensity 0.6: casing vibration +48 %, pressure down
    18 % and five times as erratic, flow down 12 %."""
    rng = np.random.default_rng(seed)

    def fn(_: int, row: Metrics) -> None:
        row["accelerometer2_rms_g"] = round(
            float(row["accelerometer2_rms_g"]) + 0.13 + abs(rng.normal(0, 0.012)), 5
        )
        row["pressure_bar"] = round(float(row["pressure_bar"]) - 0.05 + rng.normal(0, 0.03), 4)
        row["flow_rate_lpm"] = round(float(row["flow_rate_lpm"]) - 3.8 + rng.normal(0, 1.2), 3)

    return fn


def _wearing(rate_g_per_h: float) -> Shape:
    def fn(index: int, row: Metrics) -> None:
        rise = rate_g_per_h * index * PERIOD_MS / 3_600_000
        row["accelerometer1_rms_g"] = round(float(row["accelerometer1_rms_g"]) + rise, 5)
        row["accelerometer2_rms_g"] = round(float(row["accelerometer2_rms_g"]) + 0.7 * rise, 5)

    return fn


DRY = {"flow_rate_lpm": 0.2, "current_a": 1.13, "pressure_bar": 0.02}
LEAK = _scale(flow_rate_lpm=1.21, pressure_bar=0.72, current_a=1.06)
THROTTLED = _scale(flow_rate_lpm=0.8, pressure_bar=1.25, current_a=0.95)


def _duty(r: np.random.Generator, cycles: int, on_n: int = 1350, off_n: int = 450) -> list[Metrics]:
    """45 min running, 15 min stopped, at 2-s samples."""
    return [row for _ in range(cycles) for row in pump_rows(r, on_n) + pump_rows(r, off_n, False)]


def _start_transients(rows: list[Metrics]) -> list[Metrics]:
    """The first 10 s after each start: pressure and flow building up, inrush current,
    a shudder in the casing."""
    out = [dict(r) for r in rows]
    since = None
    for i, row in enumerate(out):
        since = (
            (0 if since is None or not out[i - 1]["running"] else since + 1)
            if row["running"]
            else None
        )
        if since is not None and since < 5:
            row.update(
                pressure_bar=0.05 * since,
                flow_rate_lpm=6.0 * since,
                current_a=6.0,
                accelerometer2_rms_g=0.5,
            )
    return out


def _common(fault: Callable[[np.random.Generator], list[Metrics]]) -> list[Case]:
    """What must stay silent for every pump detector."""
    return [
        Case("healthy duty cycle, 2 h", lambda r: _duty(r, 2), 0),
        Case(
            "start transients after every stop",
            lambda r: _start_transients(pump_rows(r, H) + _duty(r, 2)),
            0,
        ),
        Case(
            "single spike in every signal",
            lambda r: change(
                pump_rows(r, 900),
                600,
                601,
                accelerometer1_rms_g=3.0,
                accelerometer2_rms_g=3.0,
                pressure_bar=0.0,
                flow_rate_lpm=0.0,
                current_a=0.0,
            ),
            0,
        ),
        Case(
            "sensor glitch: two samples of doubled readings",
            lambda r: apply(
                pump_rows(r, 900),
                600,
                602,
                _scale(pressure_bar=2.0, flow_rate_lpm=2.0, accelerometer2_rms_g=2.0),
            ),
            0,
        ),
        Case(
            "daytime demand: runs 45 of 60 min, at night 20",
            lambda r: _duty(r, 1) + _duty(r, 1, 600, 1200),
            0,
        ),
        Case(
            "restart: an hour of silence",
            lambda r: pump_rows(r, 1800),
            0,
            gaps=((900, 3_600_000),),
        ),
        Case("faulty from the start is learnt as normal", fault, 0),
    ]


TEN_MIN = 600_000
S = 30  # healthy samples at one per 10 min before a fault: 5 h, settled and learnt


def _sparse(
    name: str, fault: Callable[[np.random.Generator], list[Metrics]], first_at: tuple[int, int]
) -> list[Case]:
    """One sample per 10 min: the fault is found within an hour or so, healthy running and
    a six-hour gap open nothing, and a fault after the gap is found without a new warm-up
    (a gap is not a restart)."""
    return [
        Case(f"every 10 min: {name}", fault, 1, first_at, period_ms=TEN_MIN),
        Case("every 10 min: healthy for two days", lambda r: pump_rows(r, 300), 0, None, TEN_MIN),
        Case(
            "every 10 min: a six-hour gap in healthy running",
            lambda r: pump_rows(r, 100),
            0,
            None,
            TEN_MIN,
            gaps=((50, 6 * 3_600_000),),
        ),
        Case(
            f"every 10 min: {name} right after a six-hour gap",
            fault,
            1,
            first_at,
            TEN_MIN,
            gaps=((S, 6 * 3_600_000),),
        ),
    ]


# -- cavitation --------------------------------------------------------------------------

CAVITATION_CASES = [
    Case(
        "cavitation: casing vibration up, pressure down and erratic",
        lambda r: apply(pump_rows(r, H + 300), H, None, _cavitating()),
        1,
        (H + 8, H + 40),
    ),
    Case(
        "bearing wear raises vibration with a steady pressure",
        lambda r: apply(pump_rows(r, H + 3000), H, None, _wearing(0.15)),
        0,
    ),
    Case("dry running: no flow", lambda r: change(pump_rows(r, H + 300), H, None, **DRY), 0),
    Case(
        "leakage: pressure down, vibration steady",
        lambda r: apply(pump_rows(r, 900), H, None, LEAK),
        0,
    ),
    *_common(lambda r: apply(pump_rows(r, 900), 0, None, _cavitating())),
    *_sparse(
        "cavitation", lambda r: apply(pump_rows(r, S + 20), S, None, _cavitating()), (S, S + 6)
    ),
]


@pytest.mark.parametrize("case", CAVITATION_CASES, ids=lambda c: c.id)
def test_cavitation_table(case: Case) -> None:
    check_table_case(CavitationDetector(PUMP), case)


def test_cavitation_evidence_names_both_signals() -> None:
    [(_, finding)] = check_table_case(CavitationDetector(PUMP), CAVITATION_CASES[0])
    assert finding.fault_type == "cavitation" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["score"] >= ev["threshold"] == 1.0
    assert ev["vibration_ratio"] >= 1.25
    assert ev["pressure_drop_sigmas"] >= 4.0 or ev["pressure_spread_ratio"] >= 3.0
    assert ev["flow_ratio"] > 0.5
    assert ev["baseline_pressure_bar"] == pytest.approx(0.28, abs=0.005)


# -- dry running --------------------------------------------------------------------------

DRY_CASES = [
    Case(
        "runs dry: no flow, unloaded motor",
        lambda r: change(pump_rows(r, H + 200), H, None, **DRY),
        1,
        (H + 10, H + 10),  # 20 s after the first dry sample
    ),
    Case(
        "closed discharge valve: no flow but the motor stays loaded",
        lambda r: change(pump_rows(r, H + 200), H, None, flow_rate_lpm=0.3, current_a=1.9),
        0,
    ),
    Case(
        "dry, stopped by demand, dry again at the next start: one finding",
        lambda r: (
            change(pump_rows(r, H + 100), H, None, **DRY)
            + pump_rows(r, 200, False)
            + change(pump_rows(r, 100), 0, None, **DRY)
        ),
        1,
    ),
    Case(
        "sensor glitch: flow reads 0 for two samples",
        lambda r: change(pump_rows(r, 900), 600, 602, flow_rate_lpm=0.0),
        0,
    ),
    Case(
        "cavitation keeps the flow up",
        lambda r: apply(pump_rows(r, H + 300), H, None, _cavitating()),
        0,
    ),
    *_common(lambda r: change(pump_rows(r, 900), 0, None, **DRY)),
    *_sparse("runs dry", lambda r: change(pump_rows(r, S + 20), S, None, **DRY), (S, S + 3)),
]


@pytest.mark.parametrize("case", DRY_CASES, ids=lambda c: c.id)
def test_dry_running_table(case: Case) -> None:
    check_table_case(DryRunningDetector(PUMP), case)


def test_dry_running_is_critical_with_evidence() -> None:
    [(_, finding)] = check_table_case(DryRunningDetector(PUMP), DRY_CASES[0])
    assert finding.fault_type == "dry_running" and finding.severity is Severity.CRITICAL
    ev = finding.evidence
    assert ev["source"] == "telemetry" and ev["value"] == 0.2
    assert ev["baseline"] == pytest.approx(32.0, rel=0.02)
    assert ev["current_a"] < ev["current_threshold_a"]
    assert finding.onset_ms == T0 + H * PERIOD_MS


def test_dry_run_event_fires_at_once_even_before_the_warm_up() -> None:
    detector = DryRunningDetector(PUMP)
    feed(detector, samples(PUMP, pump_rows(np.random.default_rng(1), 10)))
    assert detector.fault_active() is None
    [finding] = detector.on_event(Event(PUMP, T0 + 30_000, 11, "dry_run"))
    assert finding.severity is Severity.CRITICAL and finding.evidence["source"] == "event"
    assert detector.fault_active() is True
    assert detector.on_event(Event(PUMP, T0 + 32_000, 12, "dry_run")) == []
    assert detector.on_event(Event(PUMP, T0 + 34_000, 13, "start")) == []


# -- leakage ----------------------------------------------------------------------------

LEAK_CASES = [
    Case(
        "leak downstream: more flow at less pressure",
        lambda r: apply(pump_rows(r, H + 300), H, None, LEAK),
        1,
        (H + 60, H + 75),  # 2 minutes once the median of 30 has turned
    ),
    Case(
        "pressure falls with the flow steady",
        lambda r: apply(pump_rows(r, H + 300), H, None, _scale(pressure_bar=0.7)),
        1,
    ),
    Case(
        "throttled valve or blockage: k rises, not a leak",
        lambda r: apply(pump_rows(r, H + 300), H, None, THROTTLED),
        0,
    ),
    Case(
        "cavitation: flow and pressure fall together",
        lambda r: apply(pump_rows(r, H + 300), H, None, _cavitating()),
        0,
    ),
    Case("dry running is not a leak", lambda r: change(pump_rows(r, H + 300), H, None, **DRY), 0),
    *_common(lambda r: apply(pump_rows(r, 900), 0, None, LEAK)),
    *_sparse("leak", lambda r: apply(pump_rows(r, S + 20), S, None, LEAK), (S, S + 6)),
]


@pytest.mark.parametrize("case", LEAK_CASES, ids=lambda c: c.id)
def test_leakage_table(case: Case) -> None:
    check_table_case(LeakageDetector(PUMP), case)


def test_leakage_evidence() -> None:
    [(_, finding)] = check_table_case(LeakageDetector(PUMP), LEAK_CASES[0])
    assert finding.fault_type == "leakage" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["value"] == pytest.approx(0.72 / 1.21**2, abs=0.05)
    assert ev["value"] < ev["threshold"]
    assert (
        ev["flow_lpm"] > ev["baseline_flow_lpm"]
        and ev["pressure_bar"] < ev["baseline_pressure_bar"]
    )


def test_leakage_is_not_judged_where_pressure_is_only_noise() -> None:
    """SKAB's rig reads about 0.05 bar with +-0.5 bar of noise: k cannot be measured."""
    rng = np.random.default_rng(4)
    rows = apply(
        pump_rows(rng, 600),
        0,
        None,
        lambda _, row: row.update(pressure_bar=round(0.05 + rng.normal(0, 0.4), 4)),
    )
    detector = LeakageDetector(PUMP)
    assert feed(detector, samples(PUMP, rows)) == []
    assert detector.fault_active() is None


@pytest.mark.parametrize(
    ("cls", "case"),
    [(CavitationDetector, CAVITATION_CASES[0]), (LeakageDetector, LEAK_CASES[0])],
    ids=["cavitation", "leakage"],
)
def test_repair_clears_the_fault(cls: type[Detector], case: Case) -> None:
    detector = cls(PUMP)
    batch = case_samples(PUMP, case)
    assert len(feed(detector, batch)) == 1
    assert detector.fault_active() is True
    healthy = samples(PUMP, pump_rows(np.random.default_rng(5), 300), t0=batch[-1].ts_ms + 2000)
    assert feed(detector, healthy) == []
    assert detector.fault_active() is False


def test_median_of_three_is_numpys_median_including_ties_and_infinities() -> None:
    from detectors.pump_multivariate import median_of_three

    rng = np.random.default_rng(7)
    for _ in range(2_000):
        rows = rng.integers(-3, 4, size=(3, 5)).astype(float)  # small integers: many ties
        rows[rng.random(rows.shape) < 0.05] = np.inf
        expected = np.median(rows, axis=0)
        assert np.array_equal(median_of_three(*rows), expected)
