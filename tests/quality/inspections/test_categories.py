"""A person files a finding under the detectors' own fault types, plus `other`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import detectors
from detectors.base import Detector
from quality.inspections.categories import CATEGORIES


def _detector_fault_types() -> set[str]:
    found: set[str] = set()
    for module in pkgutil.iter_modules(detectors.__path__):
        loaded = importlib.import_module(f"detectors.{module.name}")
        for _name, cls in inspect.getmembers(loaded, inspect.isclass):
            fault_type = getattr(cls, "fault_type", None)
            if issubclass(cls, Detector) and isinstance(fault_type, str):
                found.add(fault_type)
    return found


def test_every_detector_fault_type_is_a_category_with_both_languages() -> None:
    fault_types = _detector_fault_types()
    assert len(fault_types) > 15
    assert fault_types <= set(CATEGORIES)
    assert set(CATEGORIES) - fault_types == {"other"}
    for label in CATEGORIES.values():
        assert label["zh-CN"] and label["en"]
