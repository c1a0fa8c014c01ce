"""The nuisance defaults are the figures the shared corpus gives (`tools.nuisance_defaults`)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from simulators import nuisance_params as p
from tools.nuisance_defaults import measure

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets"

pytestmark = pytest.mark.skipif(not (DATA / "real").is_dir(), reason="no shared corpus here")


@pytest.fixture(scope="module")
def figures() -> dict:
    return measure(DATA)


def test_lighting_warmup_and_dimming_defaults_are_the_street_cabinet(figures: dict) -> None:
    nights = figures["streetlight"]["nights"]
    assert len(nights) == 3
    first_minute = statistics.median(n["ramp"][0] for n in nights)
    assert first_minute == pytest.approx(p.WARMUP_START, abs=0.005)
    assert all(n["ramp"][9] > 0.98 for n in nights)  # settled by the tenth minute
    for index, (hour, level) in enumerate(p.DIM_STEPS):
        steps = [n["steps"][index] for n in nights]
        assert statistics.median(round(h) % 24 for h, _ in steps) == hour
        assert statistics.median(v for _, v in steps) == pytest.approx(level, abs=0.003)


def test_drift_default_is_the_cabinet_voltage(figures: dict) -> None:
    voltage = figures["streetlight"]["voltage"]
    assert voltage["half_range_relative"] == pytest.approx(p.DRIFT_DAILY, abs=0.001)
    assert voltage["peak_hour"] == p.DRIFT_PEAK_HOUR


def test_coupling_defaults_are_the_ims_shaft(figures: dict) -> None:
    ims = figures["ims"]
    assert ims["correlation_mean"] == pytest.approx(p.COUPLING_SHARE, abs=0.02)
    assert statistics.median(ims["relative_sd"].values()) == pytest.approx(p.COUPLING_SD, abs=0.001)


def test_noisy_default_is_skabs_bursts(figures: dict) -> None:
    bursts = sorted(figures["skab"]["relative_sd_over_1_percent"])[:-1]  # last: repeated rows
    assert min(bursts) <= p.NOISE_NOISY_SD <= max(bursts)
