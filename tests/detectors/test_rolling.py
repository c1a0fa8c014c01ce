"""The bounded-state helpers: `Persistence` (fire once, dead band, re-arm) and
`RollingWindow`."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.decision import Persistence
from detectors.rolling import RollingWindow

# Observations: F = the fault condition holds, D = dead band (neither fault nor clear),
# C = the clear condition holds.
FAULT, DEAD, CLEAR = "F", "D", "C"


def observe_all(p: Persistence, pattern: str, t0: int = 0) -> list[int]:
    """Feed a pattern like "FFDCC"; returns the indices at which `observe` fired."""
    fired = []
    for i, code in enumerate(pattern):
        if p.observe(code == FAULT, t0 + i, clear=code == CLEAR):
            fired.append(i)
    return fired


# -- fire once ----------------------------------------------------------------------------


def test_fires_once_when_the_condition_has_held_needed_times_in_a_row() -> None:
    p = Persistence(3)
    assert not p.active and p.first_ms is None
    assert observe_all(p, "FF") == []
    assert p.active and not p.fired  # holding, not yet fired
    assert p.observe(True, 2) is True
    assert p.fired and p.active
    assert p.first_ms == 0  # the first observation of the run
    # the condition keeps holding: no second firing, the onset does not move
    assert observe_all(p, FAULT * 100, t0=3) == []
    assert p.first_ms == 0


def test_a_broken_run_starts_over_before_firing() -> None:
    p = Persistence(3)
    assert observe_all(p, "FFCFFDFF") == []
    assert not p.fired
    assert p.observe(True, 8) is True
    assert p.first_ms == 6  # the run that fired began at 6


@pytest.mark.parametrize("needed", [1, 2, 5])
def test_fires_on_the_needed_th_observation(needed: int) -> None:
    p = Persistence(needed)
    assert observe_all(p, FAULT * needed) == [needed - 1]


# -- dead band ----------------------------------------------------------------------------


def test_dead_band_holds_the_fired_state() -> None:
    p = Persistence(2, clear_needed=3)
    assert observe_all(p, "FF") == [1]
    # a long stay in the dead band, interleaved with the fault: never re-arms, never re-fires
    assert observe_all(p, "D" * 50 + "FDFDFFD" * 20, t0=2) == []
    assert p.fired and p.active
    assert p.first_ms == 0  # still the onset of the first episode


def test_dead_band_before_firing_breaks_the_run_but_arms_nothing() -> None:
    p = Persistence(3)
    assert observe_all(p, "FFD") == []
    assert not p.active  # neither holding nor fired
    assert observe_all(p, "FFF", t0=3) == [2]


# -- re-arm -------------------------------------------------------------------------------


def test_clear_needed_times_in_a_row_re_arms() -> None:
    p = Persistence(2, clear_needed=3)
    assert observe_all(p, "FF") == [1]
    assert observe_all(p, "CC", t0=2) == []
    assert p.active  # two clear observations are not enough
    assert p.observe(False, 4, clear=True) is False
    assert not p.fired and not p.active and p.first_ms is None
    # armed again: the next episode fires and carries its own onset
    assert observe_all(p, "FF", t0=10) == [1]
    assert p.first_ms == 10


@pytest.mark.parametrize("interruption", [DEAD, FAULT], ids=["dead band", "fault"])
def test_an_interrupted_clear_run_starts_over(interruption: str) -> None:
    p = Persistence(2, clear_needed=3)
    assert observe_all(p, "FF") == [1]
    # C C x C C never has three clears in a row
    assert observe_all(p, f"CC{interruption}CC", t0=2) == []
    assert p.fired
    assert observe_all(p, "C" + "FF", t0=7) == [2]  # third clear in a row re-arms, then fires


def test_clear_needed_defaults_to_needed() -> None:
    p = Persistence(4)
    assert p.clear_needed == 4
    assert observe_all(p, "FFFF" + "CCC" + "FFFF") == [3]  # three clears: still fired
    assert observe_all(p, "CCCC" + "FFFF", t0=11) == [7]


def test_without_a_clear_condition_not_fault_counts_as_clear() -> None:
    """observe(condition, ts) without `clear`: the old contract, but clear_needed applies."""
    p = Persistence(2)
    assert [p.observe(c, i) for i, c in enumerate([True, True, False, True, True])] == [
        False,
        True,
        False,
        False,  # one non-fault observation did not re-arm (clear_needed = 2)
        False,
    ]
    assert [p.observe(c, 5 + i) for i, c in enumerate([False, False, True, True])] == [
        False,
        False,
        False,
        True,
    ]


def test_flapping_at_the_limit_fires_once() -> None:
    """A signal hovering at the fire threshold alternates fault and dead band."""
    rng = np.random.default_rng(7)
    p = Persistence(5, clear_needed=5)
    codes = "".join(FAULT if x > 0 else DEAD for x in rng.normal(0.3, 1.0, 5000))
    assert len(observe_all(p, codes)) == 1


def test_fires_at_most_once_between_clear_runs_on_random_input() -> None:
    """Against a direct reading of the rule, on seeded random patterns."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        needed, clear_needed = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        pattern = "".join(rng.choice([FAULT, DEAD, CLEAR], size=300, p=[0.5, 0.2, 0.3]))
        fired = observe_all(Persistence(needed, clear_needed), pattern)
        armed, fault_run, clear_run, expected = True, 0, 0, []
        for i, code in enumerate(pattern):
            fault_run = fault_run + 1 if code == FAULT else 0
            clear_run = clear_run + 1 if code == CLEAR else 0
            if not armed and clear_run >= clear_needed:
                armed = True
            if armed and fault_run >= needed:
                armed = False
                expected.append(i)
        assert fired == expected, (needed, clear_needed, pattern)


# -- RollingWindow ------------------------------------------------------------------------


def test_rolling_window_keeps_the_last_values_and_robust_summaries() -> None:
    window = RollingWindow(5)
    assert len(window) == 0 and not window.full
    for value in [1.0, 2.0, 3.0, 4.0, 100.0, 5.0, 6.0]:
        window.add(value)
    assert window.full and len(window) == 5
    assert list(window.values) == [3.0, 4.0, 100.0, 5.0, 6.0]
    assert window.median() == 5.0  # the spike does not move it
    assert window.mad_sigma() == pytest.approx(1.4826 * 1.0)
