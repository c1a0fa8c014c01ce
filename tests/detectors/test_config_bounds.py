"""A count in a detector's configuration that no detector can run with (a window of no
samples, no room for a bucket) is refused when the file is loaded, naming the parameter,
instead of failing on the device's first samples in the service."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector
from detectors.registry import KIND_DETECTORS
from simulators.models import AccessModel, DeviceModel, ElevatorModel, LightingModel, PumpModel

MODELS: dict[str, type[DeviceModel]] = {
    "elevator": ElevatorModel,
    "lighting": LightingModel,
    "pump": PumpModel,
    "access": AccessModel,
}
START_MS = 1_798_804_800_000  # 2027-01-01T12:00:00Z


def _samples(kind: str, count: int = 400) -> list[Sample]:
    model = MODELS[kind](np.random.default_rng(11))
    device = DeviceRef("s", "b", kind, f"{kind}-1")
    return [
        Sample(device, START_MS + i * 10_000, i, model.sample(START_MS + i * 10_000, 10.0, []))
        for i in range(count)
    ]


def _count_parameters() -> list[tuple[type[Detector], str]]:
    classes = {cls for kind in KIND_DETECTORS.values() for cls in kind}
    return [
        (cls, name)
        for cls in sorted(classes, key=lambda c: c.name)
        for name, field in cls.Config.model_fields.items()
        if field.annotation is int
    ]


@pytest.mark.parametrize(("cls", "name"), _count_parameters(), ids=lambda v: getattr(v, "name", v))
def test_a_count_is_refused_naming_it_or_the_detector_runs_with_it(
    cls: type[Detector], name: str
) -> None:
    samples = {kind: _samples(kind) for kind in cls.kinds if kind in MODELS}
    for value in (0, -1):
        try:
            config = cls.Config.model_validate({name: value})
        except ValidationError as exc:
            assert name in str(exc)
            continue
        for kind_samples in samples.values():
            detector = cls(kind_samples[0].device, config)
            for sample in kind_samples:
                detector.update(sample)
                detector.score(sample.ts_ms)
