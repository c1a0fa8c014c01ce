"""Per-detector tables: (series, generated series, expected findings).

Each table row builds a seeded series, feeds it to a fresh detector with its
default parameters and checks how many findings come out and at which sample
the first one does. The hysteresis of each detector (fire once, hold through the
dead band, re-arm only after a real recovery) has its own tests. Rows marked
xfail are confirmed defects that remain; they are strict, so a fix turns them
into failures that ask for the mark to be removed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from contract.finding import Finding, Severity
from contract.payload import Event, StatusChange
from detectors.access_held_open import DoorHeldOpenConfig, DoorHeldOpenDetector
from detectors.base import Detector
from detectors.elevator_door import DoorSlowingDetector
from detectors.lighting_lamp import LampFailureConfig, LampFailureDetector
from detectors.offline import OfflineConfig, OfflineDetector
from detectors.pump_bearing import BearingWearDetector
from tests.detectors.series import (
    PERIOD_MS,
    PUMP_BASE_G,
    PUMP_SIGMA_G,
    SAMPLES_PER_MIN,
    T0,
    Case,
    Clock,
    Metrics,
    close_times,
    device,
    door,
    feed,
    healthy_openings,
    lamp,
    noisy,
    pump,
    pump_levels,
    samples,
)


def rng_for(case_id: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def run_case(detector: Detector, case: Case) -> list[tuple[int, Finding]]:
    """The findings that open an episode (escalations of an open one are tested apart)."""
    rows = case.rows(rng_for(case.id))
    return openings(feed(detector, samples(detector.device, rows)))


def openings(found: list[tuple[int, Finding]]) -> list[tuple[int, Finding]]:
    return [(i, f) for i, f in found if not f.evidence.get("escalation")]


def check_case(detector: Detector, case: Case) -> list[Finding]:
    found = run_case(detector, case)
    assert len(found) == case.findings, [(i, f.summary) for i, f in found][:20]
    if case.first_at is not None:
        low, high = case.first_at
        assert low <= found[0][0] <= high, f"first finding at sample {found[0][0]}"
    for _, f in found:
        assert f.fault_type == detector.fault_type
        assert f.detector == detector.name
    return [f for _, f in found]


def with_at(values: list[float], replacements: dict[int, float]) -> list[float]:
    out = list(values)
    for index, value in replacements.items():
        out[index] = value
    return out


def cat(*parts: list[Metrics]) -> list[Metrics]:
    return [row for part in parts for row in part]


# -- elevator door slowing ----------------------------------------------------
# Defaults: warm-up 2 min, median of 60 s (30 samples at 2 s), held 10 s on 3 samples,
# limit = baseline + 1 s.

DOOR_BASE_S = 3.0
DOOR_SIGMA_S = 0.08
H_DOOR = 100  # healthy samples before a fault: warm-up and window are full by then


def _door_healthy(rng: np.random.Generator, n: int) -> list[float]:
    return noisy(rng, DOOR_BASE_S, DOOR_SIGMA_S, n)


def _door_ramp(rng: np.random.Generator, rate_s_per_h: float, n: int) -> list[float]:
    t_h = np.arange(n) * PERIOD_MS / 3_600_000
    return [float(v) for v in DOOR_BASE_S + rate_s_per_h * t_h + rng.normal(0, DOOR_SIGMA_S, n)]


def _door_mixed_types(rng: np.random.Generator) -> list[Metrics]:
    rows = close_times(_door_healthy(rng, 600))
    for index in range(0, 600, 3):
        rows[index] = {"door_close_time_s": True}  # a boolean is not a duration
    for index in range(1, 600, 7):
        rows[index] = {"door_open_time_s": 9.0}  # the metric is missing
    return rows


DOOR_CASES = [
    Case("healthy noisy", lambda r: close_times(_door_healthy(r, 2000)), 0),
    Case(
        "step to 5 s fires once",
        lambda r: close_times(_door_healthy(r, H_DOOR) + noisy(r, 5.0, DOOR_SIGMA_S, 300)),
        1,
        # the median of 30 turns at the 16th slow close, then held 10 s (5 samples)
        (H_DOOR + 19, H_DOOR + 19),
    ),
    Case(
        "ramp 4 s/h fires once, before the close time doubles",
        lambda r: close_times(_door_healthy(r, H_DOOR) + _door_ramp(r, 4.0, 1800)),
        1,
        (H_DOOR + 350, H_DOOR + 1000),  # +1 s is reached after 15 min = 450 samples
    ),
    Case(
        "single spike",
        lambda r: close_times(with_at(_door_healthy(r, 600), {300: 9.0})),
        0,
    ),
    Case(
        "burst of 7 slow closes (under half the window)",
        lambda r: close_times(with_at(_door_healthy(r, 600), {300 + i: 8.0 for i in range(7)})),
        0,
    ),
    Case(
        "sensor glitch: one out-of-band value each way",
        lambda r: close_times(with_at(_door_healthy(r, 600), {300: 119.9, 450: 0.0})),
        0,
    ),
    Case(
        "faulty start is learnt as baseline during warm-up",
        lambda r: close_times(noisy(r, 6.0, DOOR_SIGMA_S, 600)),
        0,
    ),
    Case(
        "faulty start, then repaired",
        lambda r: close_times(noisy(r, 6.0, DOOR_SIGMA_S, 80) + _door_healthy(r, 500)),
        0,
    ),
    Case(
        "flapping every sample",
        lambda r: close_times([5.0 if i % 2 else DOOR_BASE_S for i in range(2000)]),
        0,
    ),
    Case("booleans and missing metric are ignored", _door_mixed_types, 0),
]

DOOR_FLAPPING_CASES = [
    pytest.param(
        Case(
            "flapping 5 samples above / 5 below the limit",
            lambda r: close_times(
                _door_healthy(r, H_DOOR) + [5.0 if (i // 5) % 2 else 3.0 for i in range(1000)]
            ),
            1,
        ),
        id="flapping 5 samples above / 5 below the limit",
    ),
    pytest.param(
        # the median crosses the limit back and forth many times: the dead band holds it
        Case(
            "hovering at the limit for 20 min",
            lambda r: close_times(_door_healthy(r, H_DOOR) + noisy(r, 4.0, DOOR_SIGMA_S, 600)),
            1,
        ),
        id="hovering at the limit for 20 min",
    ),
]


@pytest.mark.parametrize("case", DOOR_CASES, ids=lambda c: c.id)
def test_door_slowing_table(case: Case) -> None:
    check_case(DoorSlowingDetector(device("elevator")), case)


@pytest.mark.parametrize("case", DOOR_FLAPPING_CASES)
def test_door_slowing_flapping_opens_exactly_one_finding(case: Case) -> None:
    check_case(DoorSlowingDetector(device("elevator")), case)


def test_door_slowing_finding_evidence() -> None:
    detector = DoorSlowingDetector(device("elevator"))
    [finding] = check_case(detector, DOOR_CASES[1])
    assert finding.severity is Severity.MAJOR
    assert finding.fault_type == "door_slowing"
    ev = finding.evidence
    assert {"metric", "value", "threshold", "baseline", "window"} <= ev.keys()
    assert ev["metric"] == "door_close_time_s"
    assert ev["baseline"] == pytest.approx(DOOR_BASE_S, abs=0.05)
    assert ev["threshold"] == pytest.approx(ev["baseline"] + 1.0, abs=1e-3)
    assert ev["value"] > ev["threshold"]
    assert len(ev["window"]) == 30
    # onset: the first sample of the run above the limit, before the detection sample
    assert finding.onset_ms == T0 + (H_DOOR + 14) * PERIOD_MS


# -- lighting lamp failure ----------------------------------------------------
# Defaults: learnt over 60 s (30 on-samples at 2 s), median of 10 s (5 samples), held 8 s
# on 5 samples, ratio limit 0.6. The table runs without the settling after a switch-on
# (`settle_s` 0), which is tested apart.

LAMP_A = 4.0
H_LAMP = 60
NO_SETTLE = LampFailureConfig(settle_s=0.0)


def _lamp_on(rng: np.random.Generator, n: int, level: float = LAMP_A) -> list[Metrics]:
    return lamp(level * (1 + rng.normal(0, 0.015, n)))


def _lamp_off(n: int) -> list[Metrics]:
    return lamp([0.0] * n, on=False)


def _lamp_with(rng: np.random.Generator, n: int, replace: dict[int, float]) -> list[Metrics]:
    rows = _lamp_on(rng, n)
    for index, value in replace.items():
        rows[index] = {"on": True, "current_a": value}
    return rows


def _lamp_interleaved_warmup(rng: np.random.Generator) -> list[Metrics]:
    on, off = _lamp_on(rng, H_LAMP), _lamp_off(H_LAMP)
    warmup = [row for pair in zip(off, on, strict=True) for row in pair]
    return cat(warmup, _lamp_on(rng, 100, LAMP_A * 0.2))


LAMP_CASES = [
    Case(
        "healthy noisy with daily off periods",
        lambda r: cat(*[cat(_lamp_on(r, 300), _lamp_off(300)) for _ in range(4)]),
        0,
    ),
    Case(
        "lamp failure to 20 % fires once",
        lambda r: cat(_lamp_on(r, H_LAMP), _lamp_on(r, 200, LAMP_A * 0.2)),
        1,
        (H_LAMP + 6, H_LAMP + 6),  # median of 5 turns at the 3rd, then 5 in a row
    ),
    Case(
        "long off period is not a failure",
        lambda r: cat(_lamp_on(r, H_LAMP), _lamp_off(3000), _lamp_on(r, 100)),
        0,
    ),
    Case(
        "off samples neither score nor reset the persistence",
        lambda r: cat(
            _lamp_on(r, H_LAMP),
            _lamp_on(r, 4, LAMP_A * 0.2),
            _lamp_off(300),
            _lamp_on(r, 10, LAMP_A * 0.2),
        ),
        1,
        (H_LAMP + 4 + 300 + 2, H_LAMP + 4 + 300 + 2),
    ),
    Case("warm-up interleaved with off samples", _lamp_interleaved_warmup, 1),
    Case("single dropout to 0 A", lambda r: _lamp_with(r, 600, {300: 0.0}), 0),
    Case("two dropouts in a row", lambda r: _lamp_with(r, 600, {300: 0.0, 301: 0.0}), 0),
    Case("sensor glitch 200 A", lambda r: _lamp_with(r, 600, {300: 200.0}), 0),
    Case(
        "faulty start is learnt during warm-up",
        lambda r: _lamp_on(r, 600, LAMP_A * 0.2),
        0,
    ),
    Case(
        "flapping every on-sample",
        lambda r: cat(
            _lamp_on(r, H_LAMP),
            lamp([LAMP_A * 0.2 if i % 2 else LAMP_A for i in range(1000)]),
        ),
        0,
    ),
    Case(
        "'on' missing or not a boolean is ignored",
        lambda r: cat(
            _lamp_on(r, H_LAMP),
            [{"current_a": 0.1}] * 50,
            [{"on": 1, "current_a": 0.1}] * 50,
            [{"on": True, "current_a": True}] * 50,
        ),
        0,
    ),
]

LAMP_FLAPPING_CASES = [
    pytest.param(
        Case(
            "flapping 5 on-samples low / 5 normal",
            lambda r: cat(
                _lamp_on(r, H_LAMP),
                lamp([LAMP_A * 0.2 if (i // 5) % 2 else LAMP_A for i in range(1000)]),
            ),
            1,
        ),
        id="flapping 5 on-samples low / 5 normal",
    ),
    pytest.param(
        Case(
            "hovering at the 60 % limit",
            lambda r: cat(_lamp_on(r, H_LAMP), _lamp_on(r, 600, LAMP_A * 0.6)),
            1,
        ),
        id="hovering at the 60 % limit",
    ),
]


@pytest.mark.parametrize("case", LAMP_CASES, ids=lambda c: c.id)
def test_lamp_failure_table(case: Case) -> None:
    check_case(LampFailureDetector(device("lighting"), NO_SETTLE), case)


@pytest.mark.parametrize("case", LAMP_FLAPPING_CASES)
def test_lamp_flapping_opens_exactly_one_finding(case: Case) -> None:
    check_case(LampFailureDetector(device("lighting"), NO_SETTLE), case)


def test_lamp_finding_evidence_learns_from_on_samples_only() -> None:
    detector = LampFailureDetector(device("lighting"), NO_SETTLE)
    [finding] = check_case(detector, LAMP_CASES[4])
    assert finding.severity is Severity.MAJOR
    assert finding.fault_type == "lamp_failure"
    ev = finding.evidence
    assert {"metric", "value", "threshold", "expected", "ratio", "window"} <= ev.keys()
    assert ev["metric"] == "current_a"
    # the interleaved off samples (0 A) did not drag the expected draw down
    assert ev["expected"] == pytest.approx(LAMP_A, rel=0.02)
    assert ev["ratio"] == pytest.approx(0.2, abs=0.02)
    assert ev["ratio"] < ev["threshold"] == 0.6
    assert ev["value"] == pytest.approx(ev["ratio"] * ev["expected"], rel=1e-3)


# -- pump bearing wear ----------------------------------------------------------
# Defaults: 1-minute buckets, baseline over the first 30 min, level = median of the last
# 10 min, trend over up to 24 h, limit = 1.5 x baseline, held 5 min.

LIMIT_G = PUMP_BASE_G * 1.5
M = SAMPLES_PER_MIN  # samples per minute


def _flat(rng: np.random.Generator, minutes: float, level: float = PUMP_BASE_G) -> list[float]:
    return pump_levels(rng, minutes, lambda t: np.full_like(t, level))


def _ramp(rng: np.random.Generator, minutes: float, rate_g_per_h: float) -> list[float]:
    return pump_levels(rng, minutes, lambda t: PUMP_BASE_G + rate_g_per_h * t)


def _duty_cycle(levels: list[float], stopped_values: list[float]) -> list[Metrics]:
    """45 min running, 15 min stopped, repeated; `levels` covers the running minutes."""
    rows: list[Metrics] = []
    run_n, stop_n = 45 * M, 15 * M
    for start in range(0, len(levels), run_n):
        rows += pump(levels[start : start + run_n])
        rows += pump(stopped_values[:stop_n], running=False)
    return rows


def _stopped(rng: np.random.Generator, level: float = 0.004) -> list[float]:
    return noisy(rng, level, PUMP_SIGMA_G, 15 * M)


PUMP_CASES = [
    Case(
        "healthy 8 h with a duty cycle",
        lambda r: _duty_cycle(_flat(r, 6 * 60), _stopped(r)),
        0,
    ),
    Case(
        "ramp 0.15 g/h is predicted before the limit",
        lambda r: pump(_flat(r, 30) + _ramp(r, 90, 0.15)),
        1,
        (30 * M, (30 + 43) * M),  # the ramp crosses the limit after 43 min
    ),
    Case(
        "slow ramp 0.02 g/h is predicted hours ahead",
        lambda r: pump(_flat(r, 30) + _ramp(r, 6 * 60, 0.02)),
        1,
        (30 * M, (30 + 180) * M),
    ),
    Case(
        "ramp through a duty cycle",
        lambda r: _duty_cycle(_flat(r, 30) + _ramp(r, 150, 0.15), _stopped(r)),
        1,
    ),
    Case(
        "stopped samples with high readings are ignored",
        lambda r: _duty_cycle(_flat(r, 4 * 60), _stopped(r, 3.0)),
        0,
    ),
    Case(
        "single spike",
        lambda r: pump(with_at(_flat(r, 120), {60 * M + 7: 3.0})),
        0,
    ),
    Case(
        "sensor glitch: a whole minute at 1 g",
        lambda r: pump(with_at(_flat(r, 120), {60 * M + i: 1.0 for i in range(M)})),
        0,
    ),
    Case(
        "faulty start above any limit is learnt during warm-up",
        lambda r: pump(_flat(r, 180, 0.4)),
        0,
    ),
    Case(
        "ramp from the first sample: silent during warm-up",
        lambda r: pump(_ramp(r, 120, 0.15)),
        1,
        (18 * M, 120 * M),  # 10 warm-up buckets + 8 trend buckets
    ),
    Case(
        "step past the limit",
        lambda r: pump(_flat(r, 30) + _flat(r, 30, 0.4)),
        1,
        (30 * M, 45 * M),  # the 10-min level passes the limit, held 5 min
    ),
    Case(
        "flapping each minute between healthy and past the limit",
        lambda r: pump(
            _flat(r, 30)
            + [v for k in range(120) for v in _flat(r, 1, 0.4 if k % 2 else PUMP_BASE_G)]
        ),
        0,
    ),
]

PUMP_FLAPPING_CASES = [
    Case(
        "plateau at the limit",
        lambda r: pump(_flat(r, 30) + _flat(r, 240, LIMIT_G)),
        1,
    ),
]


@pytest.mark.parametrize("case", PUMP_CASES, ids=lambda c: c.id)
def test_bearing_wear_table(case: Case) -> None:
    check_case(BearingWearDetector(device("pump")), case)


@pytest.mark.parametrize("case", PUMP_FLAPPING_CASES, ids=lambda c: c.id)
def test_bearing_wear_flapping_opens_exactly_one_finding(case: Case) -> None:
    check_case(BearingWearDetector(device("pump")), case)


@pytest.mark.parametrize(
    ("case", "rate_g_per_h"),
    [(PUMP_CASES[1], 0.15), (PUMP_CASES[2], 0.02)],
    ids=["0.15 g/h", "0.02 g/h"],
)
def test_bearing_wear_prediction_evidence(case: Case, rate_g_per_h: float) -> None:
    detector = BearingWearDetector(device("pump"))
    found = run_case(detector, case)
    assert len(found) == 1
    index, finding = found[0]
    assert finding.severity is Severity.MAJOR
    assert finding.fault_type == "bearing_wear"
    ev = finding.evidence
    keys = {"metric", "value", "threshold", "baseline", "slope_per_h", "slope_95"}
    assert keys | {"hours_to_limit", "hours_to_limit_95", "window"} <= ev.keys()
    assert ev["baseline"] == pytest.approx(PUMP_BASE_G, rel=0.01)
    assert ev["threshold"] == pytest.approx(1.5 * ev["baseline"], rel=1e-4)
    # a prediction: the level at detection time is still below the limit ...
    assert ev["value"] < ev["threshold"]
    assert "rising" in finding.summary
    # ... the true signal has not crossed it either ...
    elapsed_h = (index - 30 * M) * PERIOD_MS / 3_600_000
    assert PUMP_BASE_G + rate_g_per_h * elapsed_h < LIMIT_G
    # ... and the slope and the time to the limit come with consistent 95 % bounds
    low, high = ev["slope_95"]
    assert 0 < low <= ev["slope_per_h"] <= high
    hours, (hours_low, hours_high) = ev["hours_to_limit"], ev["hours_to_limit_95"]
    assert 0 < hours_low <= hours <= hours_high
    # counted from now: the level describes the middle of its window, `level_age_h` ago
    gap, age = ev["threshold"] - ev["value"], ev["level_age_h"]
    assert hours == pytest.approx(gap / ev["slope_per_h"] - age, abs=0.01)
    assert hours_low == pytest.approx(gap / high - age, abs=0.01)
    assert hours_high == pytest.approx(gap / low - age, abs=0.01)
    assert finding.onset_ms <= T0 + index * PERIOD_MS


@pytest.mark.parametrize(
    ("case", "rate_g_per_h"),
    [
        pytest.param(
            PUMP_CASES[1],
            0.15,
            id="0.15 g/h",
        ),
        pytest.param(PUMP_CASES[2], 0.02, id="0.02 g/h"),
    ],
)
def test_bearing_wear_time_to_limit_interval_covers_the_truth(
    case: Case, rate_g_per_h: float
) -> None:
    [(index, finding)] = run_case(BearingWearDetector(device("pump")), case)
    ev = finding.evidence
    elapsed_h = (index - 30 * M) * PERIOD_MS / 3_600_000
    true_hours = (LIMIT_G - (PUMP_BASE_G + rate_g_per_h * elapsed_h)) / rate_g_per_h
    low, high = ev["slope_95"]
    assert low <= rate_g_per_h <= high
    hours_low, hours_high = ev["hours_to_limit_95"]
    assert hours_low <= true_hours <= hours_high


def test_bearing_wear_past_limit_has_no_time_to_limit() -> None:
    detector = BearingWearDetector(device("pump"))
    [finding] = check_case(detector, PUMP_CASES[9])
    assert finding.evidence["value"] >= finding.evidence["threshold"]
    assert finding.evidence["hours_to_limit"] is None
    assert finding.evidence["hours_to_limit_95"] is None
    assert "past the" in finding.summary


# -- access door held open ------------------------------------------------------
# Default limit 60 s, persistence 2: fires on the second sample in a row over the limit,
# once per opening, and re-arms when the door reports closed on 2 samples in a row.
# Partial samples (no door_open, or door_open without held_open_s) are ignored.
# There is no warm-up: the threshold is absolute, nothing is learnt.


def _held(seconds: float, step: float = 2.0) -> list[float | None]:
    return [float(h) for h in np.arange(0.0, seconds + 1e-9, step)]


CLOSED: list[float | None] = [None] * 100

ACCESS_CASES = [
    Case("healthy busy door", lambda r: door(healthy_openings(r, 3000)), 0),
    Case(
        "held open 5 min fires once",
        lambda r: door(CLOSED + _held(300) + CLOSED),
        1,
        (100 + 32, 100 + 32),  # the 2nd sample above 60 s (62 s, then 64 s)
    ),
    Case(
        "two long openings fire twice (re-arms on close)",
        lambda r: door(CLOSED + _held(120) + CLOSED + _held(120) + CLOSED),
        2,
    ),
    Case("held exactly at the limit", lambda r: door(CLOSED + _held(60) + CLOSED), 0),
    Case(
        "one sample over the limit, then closed",
        lambda r: door(CLOSED + _held(62) + CLOSED),
        0,
    ),
    Case(
        "two samples over the limit, then closed",
        lambda r: door(CLOSED + _held(64) + CLOSED),
        1,
        (100 + 32, 100 + 32),
    ),
    Case(
        "closed for one sample between two long openings: one finding",
        lambda r: door(CLOSED + _held(120) + [None] + _held(120) + CLOSED),
        1,
    ),
    Case(
        "closed for two samples between two long openings: two findings",
        lambda r: door(CLOSED + _held(120) + [None, None] + _held(120) + CLOSED),
        2,
    ),
    Case(
        "door closed, stale held_open_s counter",
        lambda r: [{"door_open": False, "held_open_s": 5000.0}] * 100,
        0,
    ),
    Case(
        "door_open missing is ignored",
        lambda r: [{"held_open_s": float(h)} for h in range(0, 600, 2)],
        0,
    ),
    Case(
        # documented: nothing is learnt, so the very first samples can fire (2 are needed)
        "no warm-up: open past the limit from the first sample",
        lambda r: door(_held(300)[40:] + CLOSED),
        1,
        (1, 1),
    ),
]


def _glitch(_: np.random.Generator) -> list[Metrics]:
    return door([*CLOSED, 5000.0, *CLOSED])


def _bounce(_: np.random.Generator) -> list[Metrics]:
    rows = door(CLOSED + _held(300) + CLOSED)
    rows[100 + 60] = {"door_open": False, "held_open_s": 0.0}  # contact bounce at 120 s
    return rows


def _partial(_: np.random.Generator) -> list[Metrics]:
    rows = door(CLOSED + _held(300) + CLOSED)
    for index in range(140, 250, 10):
        rows[index] = {"door_open": True, "reader_ok": True}  # held_open_s not reported
    return rows


def _partial_only(_: np.random.Generator) -> list[Metrics]:
    """A door held open whose held_open_s is reported on every other sample only."""
    rows = door(CLOSED + _held(300) + CLOSED)
    for index in range(101, 251, 2):
        rows[index] = {"door_open": True, "reader_ok": True}
    return rows


# Former defects (fixed): a glitch, a bounce or a partial sample must not open or re-arm.
ACCESS_ROBUSTNESS_CASES = [
    pytest.param(Case("sensor glitch: one sample claims 5000 s open", _glitch, 0), id="glitch"),
    pytest.param(Case("one-sample contact bounce during one opening", _bounce, 1), id="bounce"),
    pytest.param(
        Case("samples without held_open_s during one opening", _partial, 1),
        id="partial-samples",
    ),
    pytest.param(
        # the full samples (even indices) still count as "in a row": the partial ones in
        # between say nothing either way; 64 s (sample 132) and 68 s (134) are over the limit
        Case("held_open_s on every other sample only", _partial_only, 1, (100 + 34, 100 + 34)),
        id="alternating-partial-samples",
    ),
]


@pytest.mark.parametrize("case", ACCESS_CASES, ids=lambda c: c.id)
def test_door_held_open_table(case: Case) -> None:
    check_case(DoorHeldOpenDetector(device("access")), case)


@pytest.mark.parametrize("case", ACCESS_ROBUSTNESS_CASES)
def test_door_held_open_ignores_glitches_bounces_and_partial_samples(case: Case) -> None:
    check_case(DoorHeldOpenDetector(device("access")), case)


def test_door_held_open_finding_evidence() -> None:
    detector = DoorHeldOpenDetector(device("access"))
    [finding] = check_case(detector, ACCESS_CASES[1])
    assert finding.severity is Severity.MAJOR
    assert finding.fault_type == "door_held_open"
    ev = finding.evidence
    assert ev["metric"] == "held_open_s"
    assert ev["threshold"] == 60.0
    assert ev["value"] == 64.0 > ev["threshold"]  # the second sample over the limit
    assert finding.onset_ms == T0 + 100 * PERIOD_MS  # when the door opened


def test_door_held_open_limit_is_per_site() -> None:
    rows = door(CLOSED + _held(300) + CLOSED)
    assert (
        len(
            feed(
                DoorHeldOpenDetector(device("access"), DoorHeldOpenConfig(limit_s=30.0)),
                samples(device("access"), rows),
            )
        )
        == 1
    )
    assert (
        feed(
            DoorHeldOpenDetector(device("access"), DoorHeldOpenConfig(limit_s=600.0)),
            samples(device("access"), rows),
        )
        == []
    )


# -- hysteresis of each detector ------------------------------------------------------
# After a finding, a signal that comes back only part of the way (into the dead band
# between the fire and the clear thresholds) keeps the fault active and cannot re-fire;
# a real recovery re-arms the detector, and the next fault is a new finding.
#   door slowing: fires above baseline + 1 s, clears below baseline + 0.5 s
#   lamp failure: fires below 60 % of the usual current, clears above 80 %
#   bearing wear: fires past 1.5 x baseline, clears below 1.1 x baseline
#   door held open: fires past 60 s, clears on 2 closed samples (open but under: dead band)


@dataclass(frozen=True)
class Hysteresis:
    id: str
    build: Callable[[], Detector]
    healthy: Callable[[np.random.Generator], list[Metrics]]
    fault: Callable[[np.random.Generator], list[Metrics]]
    dead_band: Callable[[np.random.Generator], list[Metrics]]
    recovered: Callable[[np.random.Generator], list[Metrics]]


HYSTERESIS = [
    Hysteresis(
        "door slowing",
        lambda: DoorSlowingDetector(device("elevator")),
        lambda r: close_times(_door_healthy(r, H_DOOR)),
        lambda r: close_times(noisy(r, DOOR_BASE_S + 2.0, DOOR_SIGMA_S, 60)),
        lambda r: close_times(noisy(r, DOOR_BASE_S + 0.75, DOOR_SIGMA_S, 300)),
        lambda r: close_times(_door_healthy(r, 60)),
    ),
    Hysteresis(
        "lamp failure",
        lambda: LampFailureDetector(device("lighting")),
        lambda r: _lamp_on(r, H_LAMP),
        lambda r: _lamp_on(r, 30, LAMP_A * 0.2),
        lambda r: _lamp_on(r, 300, LAMP_A * 0.7),
        lambda r: _lamp_on(r, 30),
    ),
    Hysteresis(
        "bearing wear",
        lambda: BearingWearDetector(device("pump")),
        lambda r: pump(_flat(r, 40)),
        lambda r: pump(_flat(r, 20, 0.4)),
        lambda r: pump(_flat(r, 60, PUMP_BASE_G * 1.3)),
        lambda r: pump(_flat(r, 20)),
    ),
    Hysteresis(
        "door held open",
        lambda: DoorHeldOpenDetector(device("access")),
        lambda r: door(CLOSED),
        lambda r: door(_held(100)),
        # still open, but the controller restarted its counter: under the limit
        lambda r: door(_held(40)),
        lambda r: door([None, None]),
    ),
]


def _run_segments(
    case: Hysteresis, middle: Callable[[np.random.Generator], list[Metrics]]
) -> tuple[int, list[bool | None]]:
    """Healthy, fault, `middle`, fault again: findings, and fault_active() before and after
    each segment."""
    rng = rng_for(case.id)
    detector = case.build()
    states = [detector.fault_active()]
    findings, offset = 0, 0
    for rows in (case.healthy(rng), case.fault(rng), middle(rng), case.fault(rng)):
        batch = samples(detector.device, rows, t0=T0 + offset * PERIOD_MS)
        offset += len(rows)
        findings += len(openings(feed(detector, batch)))
        states.append(detector.fault_active())
    return findings, states


@pytest.mark.parametrize("case", HYSTERESIS, ids=lambda c: c.id)
def test_dead_band_keeps_the_fault_active_and_does_not_re_fire(case: Hysteresis) -> None:
    findings, states = _run_segments(case, case.dead_band)
    assert findings == 1
    # warm-up (unknown), healthy, fault, dead band, fault again
    assert states == [None, False, True, True, True]


@pytest.mark.parametrize("case", HYSTERESIS, ids=lambda c: c.id)
def test_recovery_re_arms_and_the_next_fault_is_a_new_finding(case: Hysteresis) -> None:
    findings, states = _run_segments(case, case.recovered)
    assert findings == 2
    assert states == [None, False, True, False, True]


# -- offline ---------------------------------------------------------------------
# Operations on a simulated timeline, in seconds from T0:
#   ("sample", t) / ("event", t) / ("will", t) / ("online", t) / ("tick", t)


def _every(op: str, start_s: float, end_s: float, step_s: float) -> list[tuple[str, float]]:
    return [(op, float(t)) for t in np.arange(start_s, end_s + 1e-9, step_s)]


def _timeline(*parts: list[tuple[str, float]]) -> list[tuple[str, float]]:
    ops = [op for part in parts for op in part]
    order = {"sample": 0, "event": 0, "will": 1, "online": 1, "tick": 2}
    return sorted(ops, key=lambda op: (op[1], order[op[0]]))


def _ticks(end_s: float) -> list[tuple[str, float]]:
    return _every("tick", 0, end_s, 10)


OFFLINE_AFTER_MS = 120_000

# (id, timeline, expected findings as (cause, onset_s, detected_s))
OFFLINE_CASES: list[tuple[str, list[tuple[str, float]], list[tuple[str, float, float]]]] = [
    (
        "healthy, samples every 2 s",
        _timeline(_every("sample", 0, 3600, 2), _ticks(3600)),
        [],
    ),
    (
        "last will, back within the grace period",
        _timeline(
            _every("sample", 0, 60, 2),
            [("will", 61), ("online", 150)],
            _every("sample", 150, 900, 2),
            _ticks(900),
        ),
        [],
    ),
    (
        "last will and staying away: exactly one finding",
        _timeline(_every("sample", 0, 60, 2), [("will", 61)], _ticks(4 * 3600)),
        [("last will received", 61, 190)],
    ),
    (
        "silence longer than offline_after_ms: one finding",
        _timeline(_every("sample", 0, 60, 2), _ticks(4 * 3600)),
        [("silence", 60, 180)],
    ),
    (
        "silence just under offline_after_ms",
        _timeline(
            _every("sample", 0, 60, 2), _every("sample", 179, 600, 2), _every("tick", 0, 600, 1)
        ),
        [],
    ),
    (
        "restart: offline then online quickly",
        _timeline(
            _every("sample", 0, 60, 2),
            [("will", 61), ("online", 64)],
            _every("sample", 64, 900, 2),
            _ticks(900),
        ),
        [],
    ),
    (
        "never heard from",
        _ticks(4 * 3600),
        [],
    ),
    (
        "a repeated last will does not restart the clock",
        _timeline(_every("sample", 0, 60, 2), [("will", 61), ("will", 150)], _ticks(3600)),
        [("last will received", 61, 190)],
    ),
    (
        "events keep a device alive",
        _timeline(_every("sample", 0, 60, 2), _every("event", 90, 900, 90), _ticks(900)),
        [],
    ),
    (
        "back after an outage, then silent again: a new finding",
        _timeline(
            _every("sample", 0, 60, 2),
            [("online", 400)],
            _every("sample", 400, 460, 2),
            _ticks(1200),
        ),
        [("silence", 60, 180), ("silence", 460, 580)],
    ),
]


def _run_offline(
    timeline: list[tuple[str, float]], will_grace_ms: int = OFFLINE_AFTER_MS
) -> list[tuple[float, Finding]]:
    clock = Clock()
    dev = device("elevator")
    config = OfflineConfig(offline_after_ms=OFFLINE_AFTER_MS, will_grace_ms=will_grace_ms)
    detector = OfflineDetector(dev, clock, config)
    found: list[tuple[float, Finding]] = []
    for seq, (op, t_s) in enumerate(timeline):
        now = T0 + int(t_s * 1000)
        clock.now_ms = now
        if op == "sample":
            out = detector.update(samples(dev, [{"door_close_time_s": 3.0}], t0=now)[0])
        elif op == "event":
            out = detector.on_event(Event(dev, now, seq, "door_obstructed"))
        elif op in ("will", "online"):
            out = detector.on_status(StatusChange(dev, op == "online"), now)
        else:
            out = detector.tick(now)
        found.extend((t_s, f) for f in out)
    return found


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [pytest.param(t, e, id=i) for i, t, e in OFFLINE_CASES],
)
def test_offline_table(
    timeline: list[tuple[str, float]], expected: list[tuple[str, float, float]]
) -> None:
    found = _run_offline(timeline)
    got = [(f.evidence["cause"], (f.onset_ms - T0) / 1000, t_s) for t_s, f in found]
    assert got == expected
    for _, f in found:
        assert f.fault_type == "offline"
        assert f.severity is Severity.MAJOR
        ev = f.evidence
        assert ev["offline_after_ms"] == OFFLINE_AFTER_MS
        assert ev["gone_ms"] >= OFFLINE_AFTER_MS
        assert {"last_heard_ms", "will_received_ms", "will_grace_ms"} <= ev.keys()


@pytest.mark.parametrize("back_s", [64, 300], ids=["a restart", "an outage"])
def test_without_a_will_grace_the_will_is_the_ticket(back_s: float) -> None:
    """For devices that delay their own will (MQTT v5): the broker sent it only because
    the device stayed away, so the ticket opens with it, not after a tick."""
    timeline = _timeline(
        _every("sample", 0, 60, 2),
        [("will", 61), ("online", back_s)],
        _every("sample", back_s, 900, 2),
        _ticks(900),
    )
    found = _run_offline(timeline, will_grace_ms=0)
    got = [(f.evidence["cause"], (f.onset_ms - T0) / 1000, t_s) for t_s, f in found]
    assert got == [("last will received", 61, 61)]
    assert found[0][1].evidence["will_grace_ms"] == 0


def test_offline_uses_the_injected_clock_not_sample_time() -> None:
    """Device clocks drift: silence is measured on the injected clock."""
    clock = Clock()
    dev = device("pump")
    detector = OfflineDetector(dev, clock)
    # the device's own clock is a day behind; the samples still count as heard now
    old = samples(dev, pump([0.2] * 60), t0=T0 - 86_400_000)
    for i, sample in enumerate(old):
        clock.now_ms = T0 + i * PERIOD_MS
        assert detector.update(sample) == []
        assert detector.tick(clock.now_ms) == []
    assert detector.tick(clock.now_ms + 119_000) == []
    assert len(detector.tick(clock.now_ms + 120_000)) == 1
