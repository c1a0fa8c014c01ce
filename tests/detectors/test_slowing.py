"""Door slowing and lock slowing are one detector (`detectors.slowing`) with two
registrations: the names and fault types tickets and dashboards use stay, the metric,
units and defaults differ, and the configuration is what tunes them."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.access_lock_slowing import LockSlowingConfig, LockSlowingDetector
from detectors.elevator_door import DoorSlowingConfig, DoorSlowingDetector
from detectors.slowing import SlowingDetector
from tests.detectors.series import Metrics, device, feed, noisy, samples


def _rows(metric: str, values: list[float]) -> list[Metrics]:
    return [{metric: v} for v in values]


def test_both_registrations_share_the_logic_and_keep_their_identity() -> None:
    assert issubclass(DoorSlowingDetector, SlowingDetector)
    assert issubclass(LockSlowingDetector, SlowingDetector)
    assert (DoorSlowingDetector.name, DoorSlowingDetector.fault_type) == (
        "elevator_door_slowing",
        "door_slowing",
    )
    assert (LockSlowingDetector.name, LockSlowingDetector.fault_type) == (
        "access_lock_slowing",
        "lock_slowing",
    )
    assert (DoorSlowingConfig().min_margin, LockSlowingConfig().min_margin) == (1.0, 50.0)


@pytest.mark.parametrize(
    ("cls", "metric", "normal", "slow", "summary"),
    [
        (DoorSlowingDetector, "door_close_time_s", 3.0, 5.0, "door close time 5.00 s"),
        (LockSlowingDetector, "lock_actuation_ms", 120.0, 320.0, "lock actuation 320 ms"),
    ],
)
def test_each_registration_reads_its_metric_and_words_its_unit(
    cls: type[SlowingDetector], metric: str, normal: float, slow: float, summary: str
) -> None:
    dev = device(sorted(cls.kinds)[0])
    rng = np.random.default_rng(7)
    values = noisy(rng, normal, normal * 0.01, 100) + [slow] * 40
    [(index, finding)] = feed(cls(dev), samples(dev, _rows(metric, values)))
    assert 100 < index < 100 + 15 + 5
    assert finding.summary.startswith(summary)
    assert finding.evidence["metric"] == metric
    # a margin wider than the slowing: the same series is normal
    wide = cls.Config.model_validate({"min_margin": 3 * (slow - normal)})
    assert feed(cls(dev, wide), samples(dev, _rows(metric, values))) == []


def test_only_the_lock_leaves_implausible_readings_to_out_of_range() -> None:
    """A lock reading 20 s is a broken timer (out_of_range's ticket); a door whose
    close time jumps past its plausible band is still judged, as before the merge."""
    lock, door = device("access"), device("elevator")
    lock_rows = _rows("lock_actuation_ms", [120.0] * 80 + [20_000.0] * 40)
    door_rows = _rows("door_close_time_s", [3.0] * 80 + [150.0] * 40)
    assert feed(LockSlowingDetector(lock), samples(lock, lock_rows)) == []
    assert len(feed(DoorSlowingDetector(door), samples(door, door_rows))) == 1
