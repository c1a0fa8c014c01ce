"""The planned-maintenance covers of a past period, for a replay of it.

The service's gate (`quality.maintenance.gate`) knows the covers in force now: a work
order under way, a window not yet ended. A replay of last month needs last month's, or it
reports tickets on devices that were being serviced and whose findings the service kept
as suppressed (保养期间抑制). They are read back from what the database keeps:

- every maintenance window (保养时段) that overlaps the period;
- every maintenance work order's spans under way, from each move into dispatched,
  acknowledged or rectified (派单 onwards) to the next move out of them (verified 复核,
  closed, reopened), as the ticket history records them; a span still open covers to
  the end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.maintenance.gate import UNDER_WAY, Cover, window_covers
from quality.maintenance.models import MAINTENANCE_FAULT, MaintenanceWindow
from quality.tickets.models import Ticket, TicketHistory

DeviceKey = tuple[str, str]
"""(site, device_id)"""


def _overlaps(cover: Cover, start: datetime, end: datetime) -> bool:
    return cover.starts_at < end and (cover.ends_at is None or cover.ends_at > start)


def past_covers(engine: Engine, start: datetime, end: datetime) -> dict[DeviceKey, list[Cover]]:
    """The covers that overlap [start, end), per device, oldest first."""
    covers: dict[DeviceKey, list[Cover]] = defaultdict(list)
    with Session(engine) as session:
        windows = window_covers(
            session, MaintenanceWindow.starts_at < end, MaintenanceWindow.ends_at > start
        )
        moves = session.execute(
            select(
                Ticket.site, Ticket.device_id, Ticket.id, TicketHistory.at, TicketHistory.to_state
            )
            .join(TicketHistory, TicketHistory.ticket_id == Ticket.id)
            .where(Ticket.fault_type == MAINTENANCE_FAULT, TicketHistory.at < end)
            .order_by(Ticket.id, TicketHistory.at, TicketHistory.id)
        ).all()
    for key, cover in windows:
        covers[key].append(cover)
    under_way: dict[int, tuple[DeviceKey, datetime]] = {}
    for site, device_id, ticket_id, at, to_state in moves:
        moment = aware(at)
        assert moment is not None
        if to_state in UNDER_WAY:
            under_way.setdefault(ticket_id, ((site, device_id), moment))
            continue
        opened = under_way.pop(ticket_id, None)
        if opened is not None:
            cover = Cover(opened[1], moment, ticket_id=ticket_id)
            if _overlaps(cover, start, end):
                covers[opened[0]].append(cover)
    for ticket_id, (key, since) in under_way.items():
        covers[key].append(Cover(since, None, ticket_id=ticket_id))
    return {key: sorted(found, key=lambda c: c.starts_at) for key, found in covers.items()}


def cover_at(
    covers: Mapping[DeviceKey, Sequence[Cover]], key: DeviceKey, at: datetime
) -> Cover | None:
    """The cover under which a finding on the device at `at` was suppressed, if any."""
    for cover in covers.get(key, ()):
        if cover.covers(at):
            return cover
    return None
