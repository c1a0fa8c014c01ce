"""Tables for the lighting detectors beyond lamp failure: flicker, lights left on (learnt
dark hours or bright daylight) and illuminance below standard.

Each row feeds a seeded full-metric circuit series (`series.lighting_rows`) to a fresh
detector with its default parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from contract.finding import Severity
from detectors.lighting_flicker import FlickerDetector
from detectors.lighting_illuminance import IlluminanceLowConfig, IlluminanceLowDetector
from detectors.lighting_left_on import LightsLeftOnDetector
from tests.detectors.series import (
    T0,
    Case,
    Metrics,
    apply,
    change,
    check_table_case,
    device,
    feed,
    lighting_rows,
    samples,
)

LIGHTING = device("lighting")


def _on(r: np.random.Generator, n: int, **kw: float) -> list[Metrics]:
    return lighting_rows(r, n, on=True, **kw)


def _off(r: np.random.Generator, n: int) -> list[Metrics]:
    return lighting_rows(r, n, on=False)


def _cycles(r: np.random.Generator, cycles: int, on_n: int, off_n: int) -> list[Metrics]:
    return [row for _ in range(cycles) for row in _on(r, on_n) + _off(r, off_n)]


# -- flicker ---------------------------------------------------------------------------
# Jitter (MAD of the first differences / level) of the settled on-state current: 15 min
# of warm-up after each switch-on, 5 min learnt, limit max(10 %, 4 x learnt), held 60 s.
# At 2-s samples: 450 settle, 150 learning; the faults start 30 min (900 samples) in.
SETTLED = 900


def _flickering(depth: float, seed: int = 0) -> Callable[[int, Metrics], None]:
    rng = np.random.default_rng(seed)

    def fn(_: int, row: Metrics) -> None:
        row["current_a"] = round(float(row["current_a"]) * (1 - depth * rng.random()), 4)

    return fn


FLICKER_CASES = [
    Case("healthy noisy with daily off periods", lambda r: _cycles(r, 4, 1200, 300), 0),
    Case(
        "failing driver: the current jumps up to 40 % down",
        lambda r: apply(_on(r, 1200), SETTLED, None, _flickering(0.4)),
        1,
        (SETTLED + 20, SETTLED + 80),
    ),
    Case("single spike", lambda r: change(_on(r, 1200), SETTLED, SETTLED + 1, current_a=40.0), 0),
    Case(
        "sensor glitch: two zeros",
        lambda r: change(_on(r, 1200), SETTLED, SETTLED + 2, current_a=0.0),
        0,
    ),
    Case(
        "lamp failure is a step, not flicker",
        lambda r: apply(_on(r, 1200), SETTLED, None, lambda _, row: row.update(current_a=0.8)),
        0,
    ),
    Case(
        "daylight dimming steps 100 / 60 / 100 %",
        lambda r: _on(r, SETTLED) + _on(r, 300, current_a=2.4) + _on(r, 300),
        0,
    ),
    Case(
        "warm-up ramp after each switch-on, 30 % to full over 10 min",
        lambda r: [row for _ in range(3) for row in _ramped(_on(r, 1200), 300) + _off(r, 300)],
        0,
    ),
    Case("motion-sensor switching every few minutes", lambda r: _cycles(r, 30, 40, 60), 0),
    Case("restart", lambda r: _on(r, 1500), 0, gaps=((1000, 3_600_000),)),
    Case(
        "flicker from the start is not learnt as the circuit's normal",
        lambda r: apply(_on(r, 1200), 0, None, _flickering(0.4)),
        1,
    ),
]


@pytest.mark.parametrize("case", FLICKER_CASES, ids=lambda c: c.id)
def test_flicker_table(case: Case) -> None:
    check_table_case(FlickerDetector(LIGHTING), case)


def test_flicker_evidence() -> None:
    [(_, finding)] = check_table_case(FlickerDetector(LIGHTING), FLICKER_CASES[1])
    assert finding.fault_type == "flicker" and finding.severity is Severity.MINOR
    ev = finding.evidence
    assert ev["baseline"] == pytest.approx(0.015, abs=0.01)
    assert ev["threshold"] == 0.10 < ev["value"]
    assert len(ev["window"]) == FlickerDetector.Config().max_samples


def _ramped(rows: list[Metrics], n: int) -> list[Metrics]:
    """The first `n` rows warm up: the current rises from 30 % to full (a street lamp)."""
    out = [dict(row) for row in rows]
    for i, row in enumerate(out[:n]):
        row["current_a"] = round(float(row["current_a"]) * (0.3 + 0.7 * i / n), 4)
    return out


# -- lights left on --------------------------------------------------------------------
# One-minute samples from 08:00 UTC. The schedule is learnt per hour of the day (ready
# once every hour has been seen for 30 min); lit through learnt dark hours (and the
# hours either side) or above 2000 lx for 30 min fires.
MINUTE_MS = 60_000


def _days(
    r: np.random.Generator,
    hours: float,
    on_hour: float = 18,
    off_hour: float = 7,
    stuck_from_h: float | None = None,
    start_h: float = 0.0,
    **kw: float,
) -> list[Metrics]:
    """`hours` of one-minute samples starting `start_h` hours after T0 (08:00 UTC)."""
    rows: list[Metrics] = []
    for i in range(int(hours * 60)):
        hour = (8 + start_h + i / 60) % 24
        scheduled = (
            (hour >= on_hour or hour < off_hour)
            if on_hour > off_hour
            else (on_hour <= hour < off_hour)
        )
        stuck = stuck_from_h is not None and i >= stuck_from_h * 60
        rows += lighting_rows(r, 1, on=scheduled or stuck, **kw)
    return rows


LEFT_ON_CASES = [
    Case("healthy, three days on 18:00-07:00", lambda r: _days(r, 72), 0, period_ms=MINUTE_MS),
    Case(
        "left on from 07:00 on day three",
        lambda r: _days(r, 54, stuck_from_h=47),
        1,
        (48 * 60 + 30, 48 * 60 + 31),  # 08:30: 08:00 is the first hour with dark neighbours
        period_ms=MINUTE_MS,
    ),
    Case("always-on garage circuit", lambda r: _days(r, 72, 0, 24), 0, period_ms=MINUTE_MS),
    Case(
        "on an hour early on day three (schedule changed by hand)",
        lambda r: _days(r, 58) + _days(r, 24, on_hour=17, start_h=58),
        0,
        period_ms=MINUTE_MS,
    ),
    Case(
        "a cleaner switches on at 11:00 for 20 minutes",
        lambda r: change(_days(r, 60), 27 * 60, 27 * 60 + 20, on=True, current_a=4.0),
        0,
        period_ms=MINUTE_MS,
    ),
    Case(
        "glitch: 'on' flips for one sample",
        lambda r: change(_days(r, 60), 27 * 60, 27 * 60 + 1, on=True),
        0,
        period_ms=MINUTE_MS,
    ),
    Case(
        "switched on without drawing current is not lit",
        lambda r: change(_days(r, 60), 27 * 60, 30 * 60, on=True, current_a=0.0),
        0,
        period_ms=MINUTE_MS,
    ),
    Case(
        "left on during the first day: nothing learnt yet",
        lambda r: _days(r, 20, stuck_from_h=0),
        0,
        period_ms=MINUTE_MS,
    ),
    Case(
        "restart: two hours of silence",
        lambda r: (lambda rows: rows[: 30 * 60] + rows[32 * 60 :])(_days(r, 60)),
        0,
        period_ms=MINUTE_MS,
        gaps=((30 * 60, 7_200_000),),
    ),
    Case(
        "garage under a skylight: always on, 5000 lx of daylight at noon",
        lambda r: (
            _days(r, 26, 0, 24)
            + change(_days(r, 2, 0, 24, start_h=26), 0, None, illuminance_lux=5160.0)
        ),
        1,
        (26 * 60 + 30, 26 * 60 + 31),
        period_ms=MINUTE_MS,
    ),
]


@pytest.mark.parametrize("case", LEFT_ON_CASES, ids=lambda c: c.id)
def test_lights_left_on_table(case: Case) -> None:
    check_table_case(LightsLeftOnDetector(LIGHTING), case)


def test_lights_left_on_evidence_and_state() -> None:
    detector = LightsLeftOnDetector(LIGHTING)
    case = LEFT_ON_CASES[1]
    [(_, finding)] = check_table_case(detector, case)
    assert finding.fault_type == "lights_left_on" and finding.severity is Severity.MINOR
    ev = finding.evidence
    assert ev["reason"] == "learnt dark hours" and ev["threshold"] == 1800.0
    assert ev["learnt_lit_share"][8] == 0.0 and ev["learnt_lit_share"][22] == 1.0
    assert finding.onset_ms == T0 + 48 * 60 * MINUTE_MS  # 08:00 on day three
    assert detector.fault_active() is True
    # repaired at 16:00: dark again, the finding clears
    rows = _days(np.random.default_rng(1), 2)
    feed(detector, samples(LIGHTING, rows, MINUTE_MS, T0 + (54 * 60 + 2 * 60) * MINUTE_MS))
    assert detector.fault_active() is False


def test_lights_left_on_does_not_learn_a_stuck_circuit_as_its_schedule() -> None:
    """Stuck on for a week: one finding, the learnt dark hours stay dark."""
    detector = LightsLeftOnDetector(LIGHTING)
    rows = _days(np.random.default_rng(2), 24 * 8, stuck_from_h=47)
    found = feed(detector, samples(LIGHTING, rows, MINUTE_MS))
    assert len(found) == 1
    assert detector.share(12) == 0.0 and detector.fault_active() is True


# -- illuminance below standard ------------------------------------------------------------
# Median of 15 on-samples below 75 lx for 5 on-samples; on-samples within 2 min of a
# switch-on are not scored.

ILLUMINANCE_CASES = [
    Case("healthy 160 lx with off periods", lambda r: _cycles(r, 4, 600, 300), 0),
    Case(
        "ageing lamps and dirty diffusers: 40 lx",
        lambda r: _on(r, 100) + _on(r, 200, lamp_lux=40.0),
        1,
        (100 + 10, 100 + 14),
    ),
    Case(
        "dim lamps, but daylight lights the area well enough",
        lambda r: _on(r, 100) + _on(r, 200, lamp_lux=40.0, daylight_lux=300.0),
        0,
    ),
    Case("single dip to 0 lx", lambda r: change(_on(r, 300), 150, 151, illuminance_lux=0.0), 0),
    Case(
        "a van parks in front of the sensor for 10 s",
        lambda r: change(_on(r, 300), 150, 155, illuminance_lux=3.0),
        0,
    ),
    Case(
        "discharge lamps warm up for a minute after each switch-on",
        lambda r: apply(
            _off(r, 1) + _cycles(r, 10, 200, 100),
            1,
            None,
            lambda i, row: row.update(illuminance_lux=20.0) if row["on"] and i % 300 < 30 else None,
        ),
        0,
    ),
    Case("restart", lambda r: _on(r, 600), 0, gaps=((300, 3_600_000),)),
    Case(
        "hovering at the standard: one finding",
        lambda r: _on(r, 100) + _on(r, 1000, lamp_lux=74.0),
        1,
    ),
]


@pytest.mark.parametrize("case", ILLUMINANCE_CASES, ids=lambda c: c.id)
def test_illuminance_low_table(case: Case) -> None:
    check_table_case(IlluminanceLowDetector(LIGHTING), case)


def test_illuminance_low_evidence_and_standard_per_area() -> None:
    [(_, finding)] = check_table_case(IlluminanceLowDetector(LIGHTING), ILLUMINANCE_CASES[1])
    assert finding.fault_type == "illuminance_low" and finding.severity is Severity.MAJOR
    assert finding.evidence["threshold"] == 75.0
    assert finding.evidence["value"] == pytest.approx(40.0, rel=0.05)
    office = IlluminanceLowDetector(LIGHTING, IlluminanceLowConfig(standard_lux=500.0))
    rows = _on(np.random.default_rng(3), 100)
    assert len(feed(office, samples(LIGHTING, rows))) == 1  # 160 lx is dark for desks
