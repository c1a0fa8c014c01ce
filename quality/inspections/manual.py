"""A finding a person reports (发现问题): it becomes a ticket through the same
`TicketStore.record` a detector's finding takes, so deduplication, SLA clocks, cards,
escalation and KPIs apply unchanged. The detector is `manual:<user>`; the evidence holds
the description, the photo ids and, from a round, the answer.

A place that is not a device (a stairwell, a garage corner) stands in the ticket's
device column as `place:<building>/<floor>/<place>`, of kind `place`, so one open ticket
per place and category holds as it does per device and fault type.

>>> place_device_id("B1", "F2", "stairwell")
'place:B1/F2/stairwell'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.inspections.messages import MANUAL_DETECTOR_PREFIX
from quality.tickets.store import RecordResult, TicketStore

PLACE_KIND: Final = "place"
MANUAL_VERSION: Final = "1"
DEVICE_ID_LENGTH: Final = 64  # the ticket table's device_id column
DETECTOR_LENGTH: Final = 64

# (site, device_id) -> (building, kind) from the ledger or the registry, None if unknown.
DeviceLookup = Callable[[str, str], "tuple[str, str] | None"]


def place_device_id(building: str, floor: str | None, place: str) -> str:
    """The ticket's device id for a place; long names keep a hash so two places never merge."""
    name = "place:" + "/".join(part for part in (building, floor, place) if part)
    if len(name) <= DEVICE_ID_LENGTH:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{name[: DEVICE_ID_LENGTH - 13]}~{digest}"


@dataclass(frozen=True, slots=True)
class Where:
    """A device of a site, or a place in one of its buildings."""

    site: str
    building: str
    kind: str
    device_id: str | None = None
    floor: str | None = None
    place: str | None = None

    def device(self) -> DeviceRef:
        if self.device_id is not None:
            return DeviceRef(self.site, self.building, self.kind, self.device_id)
        return DeviceRef(
            self.site,
            self.building,
            PLACE_KIND,
            place_device_id(self.building, self.floor, self.place or ""),
        )

    def as_evidence(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "building": self.building,
            "device_id": self.device_id,
            "floor": self.floor,
            "place": self.place,
        }


@dataclass(frozen=True, slots=True)
class ManualReport:
    where: Where
    category: str
    severity: Severity
    description: str
    reported_by: str
    observed_at: datetime
    photo_ids: tuple[str, ...] = ()
    # What else the ticket should show (a round's question and answer).
    extra: dict[str, Any] = field(default_factory=dict)


def detector_name(user: str) -> str:
    return (MANUAL_DETECTOR_PREFIX + user)[:DETECTOR_LENGTH]


def finding_for(report: ManualReport) -> Finding:
    evidence: dict[str, Any] = {
        "source": "inspection" if report.extra else "manual",
        "reported_by": report.reported_by,
        "description": report.description,
        "photos": list(report.photo_ids),
        "location": report.where.as_evidence(),
        "observed_at": report.observed_at.isoformat(),
        **report.extra,
    }
    return Finding(
        device=report.where.device(),
        fault_type=report.category,
        severity=report.severity,
        detector=detector_name(report.reported_by),
        detector_version=MANUAL_VERSION,
        onset_ms=int(report.observed_at.timestamp() * 1000),
        summary=report.description,
        evidence=evidence,
    )


def open_manual(tickets: TicketStore, report: ManualReport) -> RecordResult:
    """Record the report as a finding: a new ticket, or one more occurrence of the active
    ticket for the same device (or place) and category."""
    return tickets.record(finding_for(report))
