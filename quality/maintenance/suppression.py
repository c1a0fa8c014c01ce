"""A finding on a device under maintenance is kept as a *suppressed* occurrence instead of
opening (or adding to) a ticket: in `maintenance_suppressed`, and, when a work order covers
the device, as an occurrence on the work order's ticket, so the maintainer sees what the
detectors saw while they worked.

The time judged is when the service received the finding's message, not the device's
timestamp: maintenance is going on now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from contract.finding import Finding
from quality.maintenance.gate import Cover, MaintenanceGate
from quality.maintenance.models import SuppressedFinding
from quality.tickets.models import Ticket, TicketOccurrence


def _json_safe(evidence: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(evidence, default=str, allow_nan=False))
    return result


class Suppressor:
    def __init__(self, gate: MaintenanceGate) -> None:
        self.gate = gate
        self.engine = gate.engine

    def suppress(self, finding: Finding, now_ms: int) -> bool:
        """True when the device is under maintenance: the finding is then kept here and
        must not be recorded as a ticket."""
        at = datetime.fromtimestamp(now_ms / 1000, UTC)
        device = finding.device
        cover = self.gate.is_suppressed(device.site, device.device_id, at)
        if cover is None:
            return False
        self.keep(finding, at, cover)
        return True

    def keep(self, finding: Finding, at: datetime, cover: Cover) -> None:
        evidence = _json_safe(
            {
                **finding.evidence,
                "detector": finding.detector,
                "version": finding.detector_version,
                "suppressed": True,
                "fault_type": finding.fault_type,
                "severity": finding.severity.value,
                "maintenance_window_id": cover.window_id,
            }
        )
        with Session(self.engine) as session:
            session.add(
                SuppressedFinding(
                    site=finding.device.site,
                    device_id=finding.device.device_id,
                    at=at,
                    onset_ms=finding.onset_ms,
                    fault_type=finding.fault_type,
                    severity=finding.severity.value,
                    detector=finding.detector,
                    summary=finding.summary,
                    evidence=evidence,
                    ticket_id=cover.ticket_id,
                    window_id=cover.window_id,
                )
            )
            if cover.ticket_id is not None:
                session.add(
                    TicketOccurrence(
                        ticket_id=cover.ticket_id,
                        onset_ms=finding.onset_ms,
                        recorded_at=at,
                        summary=f"suppressed during maintenance (保养期间抑制): {finding.summary}",
                        evidence=evidence,
                    )
                )
                session.execute(
                    update(Ticket)
                    .where(Ticket.id == cover.ticket_id)
                    .values(occurrences=Ticket.occurrences + 1)
                )
            session.commit()
