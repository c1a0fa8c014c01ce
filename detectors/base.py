"""The streaming detector interface and the findings detectors emit.

A detector instance watches one device. `update` takes one validated sample
and returns findings (usually none); `tick` lets time-based detectors (offline)
speak when no sample arrives. Scoring and deciding stay separate: `score`
returns the raw statistic, `update` applies warm-up and hysteresis to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, cast

from gateway.contract import DeviceRef
from gateway.payload import Event, MetricValue, Sample, StatusChange


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's claim that a device has (or is heading for) a fault."""

    device: DeviceRef
    fault_type: str
    severity: Severity
    detector: str
    detector_version: str
    onset_ms: int
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Detector:
    """Base class: one instance per device, bounded state, silent during warm-up."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]]
    fault_type: ClassVar[str]
    severity: ClassVar[Severity] = Severity.MAJOR

    def __init__(self, device: DeviceRef) -> None:
        self.device = device

    def update(self, sample: Sample) -> list[Finding]:
        return []

    def on_event(self, event: Event) -> list[Finding]:
        return []

    def on_status(self, status: StatusChange, now_ms: int) -> list[Finding]:
        return []

    def tick(self, now_ms: int) -> list[Finding]:
        return []

    def fault_active(self) -> bool | None:
        """Does the fault condition hold right now? None while the detector cannot tell
        (warm-up). Telemetry verification of a repair needs `False` for a whole window."""
        return None

    def finding(
        self,
        onset_ms: int,
        summary: str,
        evidence: dict[str, Any],
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            device=self.device,
            fault_type=self.fault_type,
            severity=severity or self.severity,
            detector=self.name,
            detector_version=self.version,
            onset_ms=onset_ms,
            summary=summary,
            evidence=evidence,
        )


def number(metrics: dict[str, MetricValue], name: str) -> float | None:
    """The metric as a finite float; None when it is missing, a boolean or not finite.

    The gateway rejects NaN and infinities, but detectors are also fed directly (replays,
    data sets): a non-finite reading must never be learnt or judged."""
    value = metrics.get(name)
    if type(value) is float:  # the common case first: every detector calls this per sample
        reading = cast(float, value)
        return reading if -math.inf < reading < math.inf else None
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def flag(metrics: dict[str, MetricValue], name: str) -> bool | None:
    """The metric as a boolean; None when it is missing or not a boolean (1 is not True)."""
    value = metrics.get(name)
    return value if isinstance(value, bool) else None
