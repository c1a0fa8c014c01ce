"""Tables for the access detectors beyond door held open: forced open, credential brute
force, lock actuation slowing and reader offline.

Each row feeds a seeded full-metric door series (`series.access_rows`: every opening
follows a valid badge) to a fresh detector with its default parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Severity
from contract.payload import Event
from detectors.access_brute_force import BruteForceDetector
from detectors.access_forced_open import DoorForcedDetector
from detectors.access_lock_slowing import LockSlowingDetector
from detectors.access_reader_offline import ReaderOfflineDetector
from tests.detectors.series import (
    PERIOD_MS,
    T0,
    Case,
    Metrics,
    access_rows,
    apply,
    change,
    check_table_case,
    device,
    feed,
    samples,
)

ACCESS = device("access")
Shape = Callable[[int, Metrics], None]


def _quiet(r: np.random.Generator, n: int) -> list[Metrics]:
    return access_rows(r, n, badge_rate=0.0)


def _opening(seconds: float, valid_first: int = 0) -> list[Metrics]:
    """A door opening of `seconds` (2-s samples): held_open_s counts from 0."""
    rows = [
        {
            "door_open": True,
            "held_open_s": float(h),
            "valid_credentials": valid_first if h == 0 else 0,
            "invalid_credentials": 0,
            "lock_actuation_ms": 120.0,
            "reader_ok": True,
        }
        for h in range(0, int(seconds), 2)
    ]
    return rows


def _closed(n: int) -> list[Metrics]:
    return [
        {
            "door_open": False,
            "held_open_s": 0.0,
            "valid_credentials": 0,
            "invalid_credentials": 0,
            "lock_actuation_ms": 120.0,
            "reader_ok": True,
        }
        for _ in range(n)
    ]


# -- forced open ---------------------------------------------------------------------------
# Open 20 s with no valid credential since 10 s before the opening; watched since then.

FORCED_CASES = [
    Case("healthy busy door", lambda r: access_rows(r, 6000, badge_rate=0.1), 0),
    Case(
        "forced and left open 40 s",
        lambda r: _quiet(r, 100) + _opening(40) + _closed(20),
        1,
        (110, 110),
    ),
    Case(
        "forced and shut within 10 s: only the controller's event tells",
        lambda r: _quiet(r, 100) + _opening(10) + _closed(20),
        0,
    ),
    Case(
        "badged in, then propped open (door held open, not forced)",
        lambda r: _quiet(r, 100) + _opening(300, valid_first=1) + _closed(20),
        0,
    ),
    Case(
        "sensor glitch: the badge of an ordinary 12-s passage lost",
        lambda r: _quiet(r, 100) + _opening(12) + _closed(20),
        0,
    ),
    Case(
        "glitch: door_open flips for one sample",
        lambda r: change(_quiet(r, 200), 100, 101, door_open=True),
        0,
    ),
    Case(
        "already open when first heard (opened before we watched)",
        lambda r: [dict(row, held_open_s=30.0 + row["held_open_s"]) for row in _opening(60)],
        0,
    ),
    Case(
        "restart: opened during a gap in the samples",
        lambda r: _quiet(r, 100) + _opening(60) + _closed(20),
        0,
        gaps=((100, 600_000),),
    ),
    Case(
        "daily peak: badge after badge",
        lambda r: access_rows(r, 3000, badge_rate=0.5),
        0,
    ),
    Case(
        "forced twice: two findings",
        lambda r: _quiet(r, 100) + _opening(40) + _closed(20) + _opening(40) + _closed(20),
        2,
    ),
]


@pytest.mark.parametrize("case", FORCED_CASES, ids=lambda c: c.id)
def test_door_forced_table(case: Case) -> None:
    check_table_case(DoorForcedDetector(ACCESS), case)


def test_door_forced_is_critical_and_dated_at_the_opening() -> None:
    [(_, finding)] = check_table_case(DoorForcedDetector(ACCESS), FORCED_CASES[1])
    assert finding.fault_type == "door_forced" and finding.severity is Severity.CRITICAL
    assert finding.onset_ms == T0 + 100 * PERIOD_MS
    ev = finding.evidence
    assert ev["source"] == "telemetry" and ev["value"] == 20.0 >= ev["threshold"]
    assert ev["last_valid_credential_ms"] is None


def test_door_forced_event_fires_at_once() -> None:
    detector = DoorForcedDetector(ACCESS)
    feed(detector, samples(ACCESS, _quiet(np.random.default_rng(1), 50)))
    [finding] = detector.on_event(Event(ACCESS, T0 + 100_000, 51, "door_forced"))
    assert finding.severity is Severity.CRITICAL and finding.evidence["source"] == "event"
    assert detector.fault_active() is True
    assert detector.on_event(Event(ACCESS, T0 + 101_000, 52, "door_forced")) == []
    assert detector.on_event(Event(ACCESS, T0 + 101_000, 53, "tamper")) == []
    feed(detector, samples(ACCESS, _closed(3), t0=T0 + 102_000))
    assert detector.fault_active() is False


# -- credential brute force ----------------------------------------------------------------
# 10 refused credentials within 5 minutes.


def _refusals(every: int) -> Shape:
    def fn(index: int, row: Metrics) -> None:
        row["invalid_credentials"] = int(index % every == 0)

    return fn


BRUTE_CASES = [
    Case("healthy: a refused badge now and then", lambda r: access_rows(r, 20_000), 0),
    Case(
        "one refusal every 10 s",
        lambda r: apply(access_rows(r, 600), 200, 350, _refusals(5)),
        1,
        (200 + 45, 200 + 45),
    ),
    Case(
        "an expired card tried three times",
        lambda r: change(access_rows(r, 600), 200, 203, invalid_credentials=1),
        0,
    ),
    Case(
        "sensor glitch: a count tripled",
        lambda r: change(access_rows(r, 600), 200, 201, invalid_credentials=3),
        0,
    ),
    Case(
        "morning rush: ten times the badges",
        lambda r: access_rows(r, 6000, badge_rate=0.2),
        0,
    ),
    Case(
        "two bursts 20 minutes apart: two findings",
        lambda r: apply(
            apply(access_rows(r, 1500), 100, 250, _refusals(5)),
            850,
            1000,
            _refusals(5),
        ),
        2,
    ),
    Case(
        "a pause of 2 min within one burst: one finding",
        lambda r: apply(
            apply(access_rows(r, 1000), 100, 250, _refusals(5)),
            310,
            460,
            _refusals(5),
        ),
        1,
    ),
    Case("restart", lambda r: access_rows(r, 2000), 0, gaps=((1000, 600_000),)),
]


@pytest.mark.parametrize("case", BRUTE_CASES, ids=lambda c: c.id)
def test_brute_force_table(case: Case) -> None:
    check_table_case(BruteForceDetector(ACCESS), case)


def test_brute_force_evidence() -> None:
    [(_, finding)] = check_table_case(BruteForceDetector(ACCESS), BRUTE_CASES[1])
    assert finding.fault_type == "credential_brute_force"
    assert finding.severity is Severity.MAJOR
    assert finding.evidence["value"] == 10 == finding.evidence["threshold"]
    assert finding.onset_ms == T0 + 200 * PERIOD_MS  # the first refusal of the burst


# -- lock actuation slowing ---------------------------------------------------------------
# Median of the last 60 s against the baseline of the first 2 min;
# limit baseline + max(50 ms, 50 %).


def _slower(extra_ms: float) -> Shape:
    def fn(_: int, row: Metrics) -> None:
        row["lock_actuation_ms"] = round(float(row["lock_actuation_ms"]) + extra_ms, 1)

    return fn


def _slowing(rate_ms_per_h: float) -> Shape:
    def fn(index: int, row: Metrics) -> None:
        extra = rate_ms_per_h * index * PERIOD_MS / 3_600_000
        row["lock_actuation_ms"] = round(float(row["lock_actuation_ms"]) + extra, 1)

    return fn


LOCK_CASES = [
    Case("healthy noisy", lambda r: access_rows(r, 5000), 0),
    Case(
        "strike jams: +200 ms",
        lambda r: apply(access_rows(r, 400), 200, None, _slower(200.0)),
        1,
        (200 + 19, 200 + 19),  # the median of 60 s (30 readings), then held 10 s
    ),
    Case(
        "weakening solenoid: +100 ms an hour",
        lambda r: apply(access_rows(r, 3000), 200, None, _slowing(100.0)),
        1,
        (200 + 1000, 200 + 1300),  # +60 ms after 36 min = 1080 samples
    ),
    Case(
        "single spike",
        lambda r: change(access_rows(r, 600), 300, 301, lock_actuation_ms=5000.0),
        0,
    ),
    Case(
        "sensor glitch: three readings at 0",
        lambda r: change(access_rows(r, 600), 300, 303, lock_actuation_ms=0.0),
        0,
    ),
    Case(
        "cold morning: +20 ms for an hour",
        lambda r: apply(access_rows(r, 3000), 600, 2400, _slower(20.0)),
        0,
    ),
    Case("restart", lambda r: access_rows(r, 2000), 0, gaps=((1000, 600_000),)),
    Case(
        "slow from the start is learnt",
        lambda r: apply(access_rows(r, 600), 0, None, _slower(400.0)),
        0,
    ),
]


@pytest.mark.parametrize("case", LOCK_CASES, ids=lambda c: c.id)
def test_lock_slowing_table(case: Case) -> None:
    check_table_case(LockSlowingDetector(ACCESS), case)


def test_lock_slowing_evidence() -> None:
    [(_, finding)] = check_table_case(LockSlowingDetector(ACCESS), LOCK_CASES[1])
    assert finding.fault_type == "lock_slowing" and finding.severity is Severity.MAJOR
    ev = finding.evidence
    assert ev["baseline"] == pytest.approx(120.0, abs=3.0)
    assert ev["threshold"] == pytest.approx(ev["baseline"] + 60.0, abs=0.2)
    assert ev["value"] > ev["threshold"] and len(ev["window"]) == 30  # 60 s at 2 s


# -- reader offline --------------------------------------------------------------------
# reader_ok false for 60 s and 2 samples.

READER_CASES = [
    Case("healthy", lambda r: access_rows(r, 3000), 0),
    Case(
        "reader cable cut for 5 min",
        lambda r: change(access_rows(r, 400), 100, 250, reader_ok=False, valid_credentials=0),
        1,
        (130, 130),
    ),
    Case(
        "one missed heartbeat", lambda r: change(access_rows(r, 400), 100, 101, reader_ok=False), 0
    ),
    Case("a 40-s bus hiccup", lambda r: change(access_rows(r, 400), 100, 120, reader_ok=False), 0),
    Case(
        "offline with one glitched heartbeat in the middle: one finding",
        lambda r: change(
            change(access_rows(r, 400), 100, 250, reader_ok=False), 180, 181, reader_ok=True
        ),
        1,
    ),
    Case("restart", lambda r: access_rows(r, 2000), 0, gaps=((1000, 600_000),)),
]


@pytest.mark.parametrize("case", READER_CASES, ids=lambda c: c.id)
def test_reader_offline_table(case: Case) -> None:
    check_table_case(ReaderOfflineDetector(ACCESS), case)


def test_reader_offline_evidence() -> None:
    [(_, finding)] = check_table_case(ReaderOfflineDetector(ACCESS), READER_CASES[1])
    assert finding.fault_type == "reader_offline" and finding.severity is Severity.MAJOR
    assert finding.onset_ms == T0 + 100 * PERIOD_MS
    assert finding.evidence["value"] == 60.0 == finding.evidence["threshold"]
