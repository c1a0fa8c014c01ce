"""Deadlines and windows that shape the ticket loop, per severity, from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

SEVERITIES = ("critical", "major", "minor")
ESCALATE_TO = {"minor": "major", "major": "critical", "critical": "critical"}

# The SLA clocks, in the loop's order: each names the moment it starts from.
#   dispatch (派单):       opening or reopening -> dispatch
#   acknowledge (接单):    dispatch -> acknowledgement
#   rectify (整改):        opening or reopening -> rectification
#   recheck (复核):        rectification -> verification
STAGES: Final = ("dispatch", "acknowledge", "rectify", "recheck")


@dataclass(frozen=True, slots=True)
class Deadlines:
    dispatch: timedelta
    rectify: timedelta
    acknowledge: timedelta = timedelta(hours=2)
    recheck: timedelta = timedelta(hours=24)


def _default_sla() -> dict[str, Deadlines]:
    return {
        "critical": Deadlines(
            timedelta(minutes=15), timedelta(hours=4), timedelta(minutes=15), timedelta(hours=4)
        ),
        "major": Deadlines(
            timedelta(hours=4), timedelta(hours=72), timedelta(hours=2), timedelta(hours=24)
        ),
        "minor": Deadlines(
            timedelta(hours=48), timedelta(days=7), timedelta(hours=24), timedelta(hours=72)
        ),
    }


@dataclass(frozen=True, slots=True)
class TicketPolicy:
    sla: dict[str, Deadlines] = field(default_factory=_default_sla)
    repeat_window: timedelta = timedelta(days=30)
    reopen_grace: timedelta = timedelta(hours=24)
    verification_window: timedelta = timedelta(hours=1)
    auto_close_verified: bool = False

    def deadlines(self, severity: str) -> Deadlines:
        return self.sla.get(severity, self.sla["major"])
