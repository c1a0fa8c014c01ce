"""The pump anomaly detector beyond SKAB's 1 Hz: a sparse device arms in time, a gap
re-learns nothing, and the drift allowance floors each signal's spread."""

from __future__ import annotations

import numpy as np
import pytest

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.pump_multivariate import PumpMultivariateConfig, PumpMultivariateDetector

DEVICE = DeviceRef("s", "b", "pump", "p1")
T0 = 1_800_000_000_000
TEN_MIN = 600_000


def _sample(i: int, ts_ms: int, flow: float, rng: np.random.Generator) -> Sample:
    return Sample(
        DEVICE,
        ts_ms,
        i,
        {
            "accelerometer1_rms_g": float(0.2 + rng.normal(0, 0.002)),
            "accelerometer2_rms_g": float(0.27 + rng.normal(0, 0.002)),
            "current_a": float(2.5 + rng.normal(0, 0.05)),
            "voltage_v": float(230 + rng.normal(0, 2)),
            "pressure_bar": float(3.0 + rng.normal(0, 0.03)),
            "flow_rate_lpm": float(flow + rng.normal(0, 0.5)),
            "running": True,
        },
    )


def test_a_device_reporting_every_ten_minutes_arms_after_two_hours_and_finds_a_drop() -> None:
    rng = np.random.default_rng(3)
    detector = PumpMultivariateDetector(DEVICE)
    found = []
    for i in range(40):
        flow = 120.0 if i < 25 else 90.0  # the inlet throttled after ~4 h
        found += [(i, f) for f in detector.update(_sample(i, T0 + i * TEN_MIN, flow, rng))]
        if i == 11:
            assert detector.fault_active() is None  # 12 samples over 1 h 50 min: warming up
        if i == 12:
            assert detector.fault_active() is False  # 2 h: armed
    assert [f.evidence["metric"] for _, f in found] == ["flow_rate_lpm"]
    assert 25 <= found[0][0] <= 32


def test_a_gap_counts_as_one_interval_for_the_drift() -> None:
    """The first readings after six hours of silence are not learnt as the new normal."""
    rng = np.random.default_rng(4)
    detector = PumpMultivariateDetector(DEVICE, PumpMultivariateConfig(warmup_samples=100))
    t = T0
    for i in range(300):
        detector.update(_sample(i, t, 120.0, rng))
        t += 1_000
    assert detector.level is not None
    before = float(detector.level[detector.signals.index("flow_rate_lpm")])  # type: ignore[union-attr]
    t += 6 * 3_600_000
    for i in range(300, 303):  # within the clear band: 0.6 l/min up
        detector.update(_sample(i, t, before + 0.6, np.random.default_rng(0)))
        t += 1_000
    after = float(detector.level[detector.signals.index("flow_rate_lpm")])  # type: ignore[union-attr]
    assert after - before < 0.05  # a learnt level moving over 600 s, not jumping to the reading


@pytest.mark.parametrize("allowance", [0.0, 0.05])
def test_the_drift_allowance_floors_the_spread(allowance: float) -> None:
    """A 5 % allowance on the flow: a 3 % wander stays below the threshold."""
    rng = np.random.default_rng(5)
    config = PumpMultivariateConfig(
        warmup_samples=100, drift_allowance={"flow_rate_lpm": allowance} if allowance else {}
    )
    detector = PumpMultivariateDetector(DEVICE, config)
    alarms = [
        detector.update(_sample(i, T0 + i * 1_000, 120.0 if i < 200 else 123.6, rng))
        for i in range(400)
    ]
    assert sum(len(a) for a in alarms) == (0 if allowance else 1)
    assert detector.spread is not None and detector.signals is not None
    flow_spread = float(detector.spread[detector.signals.index("flow_rate_lpm")])
    if allowance:
        assert flow_spread == pytest.approx(0.05 * 120.0 / config.threshold, rel=0.02)
