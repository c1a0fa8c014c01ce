"""Is a device under maintenance now? Answered from memory, one lookup per finding, like
ingest's ledger gate: the covers are re-read every `refresh_s`, so a dispatch or a window
takes effect within that time in every process.

A device is covered from its maintenance work order's dispatch (派单) until the work order
is verified (复核) or closed, and within an explicit window (from, to).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.maintenance.models import MAINTENANCE_FAULT, MaintenanceWindow
from quality.tickets.lifecycle import State
from quality.tickets.models import Ticket

# The states between a work order's dispatch and its verification.
UNDER_WAY = (State.DISPATCHED.value, State.ACKNOWLEDGED.value, State.RECTIFIED.value)


@dataclass(frozen=True, slots=True)
class Cover:
    """Why a device is under maintenance: its work order's ticket, or a window."""

    starts_at: datetime
    ends_at: datetime | None  # None: until the work order is verified or closed
    ticket_id: int | None = None
    window_id: int | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


def window_covers(
    session: Session, *conditions: ColumnElement[bool]
) -> list[tuple[tuple[str, str], Cover]]:
    """The maintenance windows meeting `conditions`, each as its device and its cover."""
    rows = session.execute(
        select(
            MaintenanceWindow.site,
            MaintenanceWindow.device_id,
            MaintenanceWindow.starts_at,
            MaintenanceWindow.ends_at,
            MaintenanceWindow.id,
        ).where(*conditions)
    ).all()
    found = []
    for site, device_id, starts_at, ends_at, window_id in rows:
        start, end = aware(starts_at), aware(ends_at)
        assert start is not None
        found.append(((site, device_id), Cover(start, end, window_id=window_id)))
    return found


class MaintenanceGate:
    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        refresh_s: float = 10.0,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.refresh_s = refresh_s
        self.monotonic_s = monotonic_s
        self.covers: dict[tuple[str, str], list[Cover]] = {}
        self._loaded_s = float("-inf")

    def is_suppressed(self, site: str, device_id: str, at: datetime) -> Cover | None:
        """The cover under which a finding on the device at `at` is suppressed, if any."""
        if self.monotonic_s() - self._loaded_s >= self.refresh_s:
            self.refresh()
        for cover in self.covers.get((site, device_id), ()):
            if cover.covers(at):
                return cover
        return None

    def tick(self) -> None:
        if self.monotonic_s() - self._loaded_s >= self.refresh_s:
            self.refresh()

    def refresh(self) -> None:
        """Re-read the covers now (a work order dispatched, a window added)."""
        now = self.clock.now()
        covers: dict[tuple[str, str], list[Cover]] = {}
        with Session(self.engine) as session:
            orders = session.execute(
                select(Ticket.site, Ticket.device_id, Ticket.dispatched_at, Ticket.id).where(
                    Ticket.fault_type == MAINTENANCE_FAULT,
                    Ticket.state.in_(UNDER_WAY),
                    Ticket.dispatched_at.is_not(None),
                )
            ).all()
            windows = window_covers(session, MaintenanceWindow.ends_at > now)
        for site, device_id, dispatched_at, ticket_id in orders:
            start = aware(dispatched_at)
            assert start is not None
            covers.setdefault((site, device_id), []).append(Cover(start, None, ticket_id=ticket_id))
        for key, cover in windows:
            covers.setdefault(key, []).append(cover)
        self.covers = covers  # one assignment: a reader on another thread sees old or new
        self._loaded_s = self.monotonic_s()
