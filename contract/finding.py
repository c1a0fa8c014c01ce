"""What a detector claims about a device: the one type detectors produce and the quality
loop records, kept here so that neither needs the other.

>>> from contract.topics import DeviceRef
>>> pump = DeviceRef("s", "b", "pump", "p1")
>>> Finding(pump, "dry_running", Severity.MAJOR, "dry_running", "1", 0, "ran dry").severity
<Severity.MAJOR: 'major'>
"""

from __future__ import annotations

from collections.abc import Mapping
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
    # The summary as a message: a key of the translation catalog (`summaries.<key>`) and
    # the values of its placeholders, so that people read it in their own language;
    # `summary` stays the English text for logs and older clients. None: text only.
    summary_key: str | None = None
    summary_params: Mapping[str, float | int | str] = field(default_factory=dict)
