"""A pump's duty cycle: shorter at night by default, the whole hour when a scenario says so."""

from __future__ import annotations

import numpy as np

from simulators.models import PumpModel

MINUTE_MS = 60_000


def running_minutes(model: PumpModel, start_ms: int) -> int:
    return sum(model._demand_running(start_ms + m * MINUTE_MS) for m in range(60))


def test_night_duty_is_a_third_unless_the_scenario_says_otherwise() -> None:
    night = 1_796_601_600_000 + 2 * 3_600_000  # 02:00 UTC
    assert 15 <= running_minutes(PumpModel(np.random.default_rng(1)), night) <= 25
    always = PumpModel(np.random.default_rng(1), day_share=1.0, night_share=1.0)
    assert running_minutes(always, night) == 60
