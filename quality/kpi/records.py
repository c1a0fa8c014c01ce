"""What the KPI functions read: a period, tickets with their history, liveness changes.

Plain frozen records, not ORM rows, so the computations are pure and tests can
build a whole history by hand. `quality.kpi.sources` fills them from SQL and
the time-series store.

>>> from datetime import UTC, datetime
>>> period = Period(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, 1, tzinfo=UTC))
>>> period.seconds
3600.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from contract.clock import to_ms

UNRESOLVED_STATES: Final = frozenset(
    {"open", "dispatched", "acknowledged", "rectified", "reopened"}
)
"""A ticket in these states still holds its device out of good condition.

`rectified` is included: the repair is not trusted until the re-check
(verification) confirms it. `verified` and `closed` are resolved.
"""

IMPAIRING_SEVERITIES: Final = frozenset({"major", "critical"})
"""Severities that count against integrity and as failures (MTBF); `minor` does not."""


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval [start, end) a KPI is computed over; both ends UTC-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period ends must be timezone-aware")
        if not self.start < self.end:
            raise ValueError(f"period start {self.start} is not before its end {self.end}")

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return to_ms(self.end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Transition:
    """One move in a ticket's history (the first one has `from_state` None, to `open`)."""

    at: datetime
    to_state: str
    from_state: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A ticket as the KPIs see it.

    `severity` is the ticket's current severity (after escalations and
    overrides): the history does not record severity as a field, so it
    applies to the ticket's whole life. `history` holds the state moves in
    time order; entries that keep the state (escalation notes,
    reassignments) are ignored. A ticket without history counts as opened at
    `opened_at` and never moved.
    """

    id: int
    device_id: str
    site: str
    building: str
    kind: str
    fault_type: str
    severity: str
    opened_at: datetime
    dispatch_due_at: datetime
    rectify_due_at: datetime
    history: tuple[Transition, ...] = ()
    dispatch_breached: bool = False
    rectify_breached: bool = False
    repeat_count: int = 1
    card: str = "none"
    false_alarm: bool = False
    """Dismissed as a false alarm: no repeat, whatever its repeat count."""
    occurrences: tuple[datetime, ...] = ()
    contractor: str | None = None
    """The contractor (维保单位) the ticket was dispatched to, if any."""
    summary_labels: tuple[tuple[str, str], ...] = ()
    """The summary by language tag ((zh-CN, ...), (en, ...)), as reports show it."""
    """When later findings of the same fault were added to this ticket."""

    def moves(self) -> list[tuple[int, str]]:
        """(epoch ms, new state) for every real state change, oldest first."""
        moves = [
            (to_ms(t.at), t.to_state)
            for t in sorted(self.history, key=lambda t: t.at)
            if t.to_state != t.from_state
        ]
        return moves or [(to_ms(self.opened_at), "open")]


@dataclass(frozen=True, slots=True)
class LivenessChange:
    """A device's reported liveness from `ts_ms` on (a `device_status` point)."""

    device_id: str
    site: str
    building: str
    kind: str
    ts_ms: int
    online: bool
