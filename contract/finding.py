"""What a detector claims about a device: the one type detectors produce and the quality
loop records, kept here so that neither needs the other.

>>> from contract.topics import DeviceRef
>>> pump = DeviceRef("s", "b", "pump", "p1")
>>> Finding(pump, "dry_running", Severity.MAJOR, "dry_running", "1", 0, "ran dry").severity
<Severity.MAJOR: 'major'>
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contract.topics import DeviceRef


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
    # the detector configuration file's version in force (None: built-in defaults)
    config_version: str | None = None
