"""Deadlines and windows that shape the ticket loop, per severity, from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

SEVERITIES = ("critical", "major", "minor")
ESCALATE_TO = {"minor": "major", "major": "critical", "critical": "critical"}


@dataclass(frozen=True, slots=True)
class Deadlines:
    dispatch: timedelta
    rectify: timedelta


def _default_sla() -> dict[str, Deadlines]:
    return {
        "critical": Deadlines(timedelta(minutes=15), timedelta(hours=4)),
        "major": Deadlines(timedelta(hours=4), timedelta(hours=72)),
        "minor": Deadlines(timedelta(hours=48), timedelta(days=7)),
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
