"""`Hysteresis`: a score judged against on and off thresholds, decided by `Persistence`."""

from __future__ import annotations

import pytest

from detectors.decision import Hysteresis, Persistence


def _fired(decider: Hysteresis, scores: list[float], on: float, off: float) -> list[int]:
    return [i for i, s in enumerate(scores) if decider.decide(s, on, off, ts_ms=i)]


def test_a_rising_score_fires_once_above_on_and_re_arms_below_off() -> None:
    h = Hysteresis(needed=2, clear_needed=2)
    # above, above (fires), dead band, above, below, below (re-armed), above, above (fires)
    scores = [11.0, 11.0, 7.0, 11.0, 4.0, 4.0, 11.0, 11.0]
    assert _fired(h, scores, on=10.0, off=5.0) == [1, 7]
    assert h.active and h.first_ms == 6


def test_a_falling_score_fires_below_on_and_re_arms_above_off() -> None:
    h = Hysteresis(needed=1, clear_needed=1, rising=False)
    assert _fired(h, [0.9, 0.5, 0.5, 0.7, 0.5, 0.9, 0.5], on=0.6, off=0.8) == [1, 6]


def test_the_thresholds_are_strict() -> None:
    assert _fired(Hysteresis(1), [10.0, 10.0], on=10.0, off=5.0) == []
    assert _fired(Hysteresis(1, rising=False), [0.6], on=0.6, off=0.8) == []


@pytest.mark.parametrize("rising", [True, False])
def test_the_same_decisions_as_persistence_on_the_conditions(rising: bool) -> None:
    scores = [float(v) for v in (3, 9, 12, 12, 8, 12, 2, 2, 2, 12, 12, 12, 6, 1, 14)]
    on, off = (10.0, 5.0) if rising else (5.0, 10.0)
    h, p = Hysteresis(2, 3, rising=rising), Persistence(2, 3)
    for ts, s in enumerate(scores):
        fault, clear = (s > on, s < off) if rising else (s < on, s > off)
        assert h.decide(s, on, off, ts) == p.observe(fault, ts, clear)
        assert (h.active, h.first_ms) == (p.active, p.first_ms)
