"""The hand-written fast paths decide exactly as the code they replace: the cadence's
steady-rhythm branch, and pump_multivariate's per-signal arithmetic in Python floats, in
separate passes and in one."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from detectors.cadence import Cadence
from detectors.pump_multivariate import (
    _deviations,
    _largest_magnitude,
    median_of_three,
    median_of_three_rows,
    one_pass,
)


class _EveryStep(Cadence):
    """A cadence that never takes the steady branch: every sample runs the full logic."""

    @property  # type: ignore[override]
    def _steady(self) -> None:
        return None

    @_steady.setter
    def _steady(self, value: int | None) -> None:
        pass


def _timestamps(rng: random.Random, count: int) -> list[int]:
    """Steady runs at several rhythms, with jitter, repeats, late samples and gaps."""
    ts, out = 0, []
    interval = rng.choice([1_000, 10_000, 600_000])
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            interval = rng.choice([1_000, 2_000, 10_000, 60_000, 600_000])
        if roll < 0.02:
            step = interval * rng.randint(6, 40)  # a gap
        elif roll < 0.03:
            step = 0  # a second sample at the same time
        elif roll < 0.04:
            step = -rng.randint(1, interval)  # out of order
        elif roll < 0.10:
            step = interval + rng.randint(-interval // 10, interval // 10)  # jitter
        else:
            step = interval
        ts += step
        out.append(ts)
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("expected_s", [None, 10.0])
def test_steady_branch_changes_no_answer(seed: int, expected_s: float | None) -> None:
    rng = random.Random(seed)
    fast, full = Cadence(expected_s), _EveryStep(expected_s)
    steady_taken = 0
    for ts in _timestamps(rng, 3_000):
        before = fast._steady
        assert fast.observe(ts) == full.observe(ts), ts
        steady_taken += before is not None and fast._steady == before
        assert (fast.expected_ms, fast.gap_limit_ms(), fast.last_ms) == (
            full.expected_ms,
            full.gap_limit_ms(),
            full.last_ms,
        )
        assert list(fast.intervals) == list(full.intervals)
        assert list(fast._long) == list(full._long)
    if expected_s is None:
        assert steady_taken > 20  # the branch was exercised


def test_steady_branch_follows_a_limit_moved_by_a_reload() -> None:
    fast, full = Cadence(), _EveryStep()
    for t in range(40):
        fast.observe(t * 10_000)
        full.observe(t * 10_000)
    assert fast._steady == 10_000
    for cadence in (fast, full):  # a reloaded configuration: gaps from 5 s on
        cadence.gap_factor, cadence.min_gap_ms = 0.5, 0
        cadence._set_expected(cadence.expected_ms)
    assert fast.observe(400_000) == full.observe(400_000) is True


def _rows(rng: np.random.Generator) -> list[np.ndarray]:
    pool = np.array([0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, 1e-300, 3.0])
    return [rng.choice(pool, size=6) for _ in range(3)]


def test_median_of_three_rows_is_the_array_version_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for _ in range(2_000):
        a, b, c = _rows(rng)
        expected = median_of_three(a, b, c)
        got = np.array(median_of_three_rows(a.tolist(), b.tolist(), c.tolist()))
        assert expected.tobytes() == got.tobytes()  # signed zeros included


def test_deviations_and_largest_magnitude_are_numpys() -> None:
    rng = np.random.default_rng(4)
    for _ in range(500):
        smooth, level = rng.normal(size=6), rng.normal(size=6)
        spread = rng.choice([0.0, 0.5, 2.0], size=6)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = (smooth - level) / spread
            worst = float(np.max(np.abs(expected)))
        got = _deviations(smooth.tolist(), level.tolist(), spread.tolist())
        assert np.array(got).tobytes() == expected.tobytes()
        found = _largest_magnitude(got)
        assert found == worst or (math.isnan(found) and math.isnan(worst))


@pytest.mark.parametrize("count", [1, 2, 3])
def test_one_pass_is_the_separate_passes_bit_for_bit(count: int) -> None:
    rng = np.random.default_rng(5 + count)
    pool = np.array([0.0, -0.0, 1.0, -1.0, 2.5, 1e-300, 3.0, 1e308, -1e308])
    nonzero = 0
    for _ in range(2_000):
        rows = [rng.choice(pool, size=6).tolist() for _ in range(count)]
        smooth, level = rng.choice(pool, size=6).tolist(), rng.normal(size=6).tolist()
        spread = rng.choice([0.0, 0.5, 2.0, 1e-300], size=6).tolist()
        alpha, beta = rng.random(), rng.random()
        filtered = median_of_three_rows(*rows) if count == 3 else rows[-1]
        expected_smooth = [s + alpha * (f - s) for s, f in zip(smooth, filtered, strict=True)]
        step = one_pass(rows, smooth, level, spread, alpha, beta)
        if 0.0 in spread:
            assert step is None  # left to `_deviations`, which gives numpy's infinities
            continue
        nonzero += 1
        assert step is not None
        got_smooth, got_z, got_worst, got_level = step
        expected_z = _deviations(expected_smooth, level, spread)
        expected_worst = _largest_magnitude(expected_z)
        expected_level = [v + beta * (s - v) for s, v in zip(expected_smooth, level, strict=True)]
        assert np.array(got_smooth).tobytes() == np.array(expected_smooth).tobytes()
        assert np.array(got_z).tobytes() == np.array(expected_z).tobytes()
        assert np.array(got_level).tobytes() == np.array(expected_level).tobytes()
        assert got_worst == expected_worst or (math.isnan(got_worst) and math.isnan(expected_worst))
    assert nonzero > 100
