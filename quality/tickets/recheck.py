"""Verifying or closing by hand while telemetry still shows the fault.

The telemetry verifier (`quality.verification`) asks the ticket's detector on every
sample after the rectification whether the fault holds (`fault_active()`), and records each
change of that judgement in `ticket_rechecks`. A person may still verify or close the ticket
(the sensor may be wrong), but only by saying so: the move needs `confirm_despite_fault`,
and its history entry says that it was confirmed despite the fault and when telemetry last
showed it.

>>> status = RecheckStatus(True, 1_700_000_000_000, "access_held_open")
>>> FaultStillPresent(7, status).public()["code"]
'fault_still_present'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from quality.tickets.lifecycle import State

# The moves a person makes that say the fault is gone.
GUARDED_TARGETS: Final = frozenset({State.VERIFIED, State.CLOSED})
CONFIRMED_MARK: Final = (
    "confirmed despite telemetry still showing the fault / 遥测仍显示故障，已确认"
)


@dataclass(frozen=True, slots=True)
class RecheckStatus:
    fault_present: bool
    observed_ms: int
    detector: str

    def observed_at(self) -> str:
        return datetime.fromtimestamp(self.observed_ms / 1000, UTC).isoformat()

    def public(self) -> dict[str, Any]:
        return {
            "fault_present": self.fault_present,
            "observed_ms": self.observed_ms,
            "observed_at": self.observed_at(),
            "detector": self.detector,
        }


class FaultStillPresent(RuntimeError):
    """A person verifies or closes a ticket whose fault telemetry still shows, unconfirmed."""

    def __init__(self, ticket_id: int, status: RecheckStatus) -> None:
        self.ticket_id = ticket_id
        self.status = status
        super().__init__(
            f"telemetry still shows the fault of ticket {ticket_id} "
            f"({status.detector}, seen {status.observed_at()}); send "
            f'"confirm_despite_fault": true to go ahead / 遥测仍显示工单 {ticket_id} 的故障'
            f"（{status.detector}，{status.observed_at()}）；确需继续请传 "
            f'"confirm_despite_fault": true'
        )

    def public(self) -> dict[str, Any]:
        return {
            "code": "fault_still_present",
            "message": str(self),
            "field": "confirm_despite_fault",
            "telemetry": self.status.public(),
        }


def confirmed_note(note: str | None, status: RecheckStatus) -> str:
    """The history note of a move confirmed despite the fault: the mark, when telemetry
    last showed the fault, then the person's own note."""
    mark = f"{CONFIRMED_MARK} ({status.detector}, {status.observed_at()})"
    return f"{mark}: {note}" if note else mark
