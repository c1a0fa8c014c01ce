"""The collector settings ingest runs with: start-up frozen, young generation larger."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from facmon.gc_tuning import GC_THRESHOLDS, collecting_less, tune_for_long_lived_state


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tuning_freezes_start_up_and_raises_the_thresholds() -> None:
    tune_for_long_lived_state()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    # Cycles made afterwards are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.usefixtures("restored_gc")
def test_collecting_less_raises_the_thresholds_for_a_stretch_of_work_only() -> None:
    gc.set_threshold(700, 10, 10)
    with collecting_less():
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
    with pytest.raises(RuntimeError), collecting_less():
        raise RuntimeError("a replay that fails")
    assert gc.get_threshold() == (700, 10, 10)
