"""The heat map of problem spots (热力分析图): tickets opened in a period, counted per
building × floor × kind, so a quality manager sees where problems cluster.

The floor is the equipment ledger's (设备台账), joined on (site, device id); a ticket for a
place an inspector reported (kind `place`) takes the floor of its report. A ticket whose
device the ledger does not place has no floor (`None`). False alarms are not problems
and are left out.

>>> sorted(["3", "B1", "12", "RF", "1", "B2"], key=floor_order)
['B2', 'B1', '1', '3', '12', 'RF']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import Session

from quality.inspections.manual import PLACE_KIND
from quality.kpi.records import Period
from quality.ledger.models import Equipment
from quality.tickets.lifecycle import ACTIVE_STATES
from quality.tickets.models import Ticket

_BASEMENT = re.compile(r"^[Bb-](\d+)$")
_NUMBER = re.compile(r"^(\d+)[Ff]?$")
_ACTIVE = [state.value for state in ACTIVE_STATES]


def floor_order(floor: str | None) -> tuple[int, float, str]:
    """Basements (B2 before B1), then numbered floors, then named ones (RF), then none."""
    if floor is None:
        return (3, 0.0, "")
    basement = _BASEMENT.match(floor)
    if basement:
        return (0, -float(basement.group(1)), floor)
    number = _NUMBER.match(floor)
    if number:
        return (1, float(number.group(1)), floor)
    return (2, 0.0, floor)


@dataclass(slots=True)
class HeatCell:
    site: str
    building: str
    floor: str | None
    kind: str
    tickets: int = 0
    active: int = 0  # still open, dispatched or acknowledged
    critical: int = 0
    repeats: int = 0  # the same fault again after a close (黄牌 / 红牌 material)

    def add(self, tickets: int, active: int, critical: int, repeats: int) -> None:
        self.tickets += tickets
        self.active += active
        self.critical += critical
        self.repeats += repeats


def _filters(
    period: Period,
    site: str | None,
    building: str | None,
    kind: str | None,
    contractor: str | None,
) -> list[Any]:
    where: list[Any] = [
        Ticket.opened_at >= period.start,
        Ticket.opened_at < period.end,
        Ticket.false_alarm.is_(False),
    ]
    for column, value in (
        (Ticket.site, site),
        (Ticket.building, building),
        (Ticket.kind, kind),
        (Ticket.contractor, contractor),
    ):
        if value is not None:
            where.append(column == value)
    return where


def heat_map(
    engine: Engine,
    period: Period,
    *,
    site: str | None = None,
    building: str | None = None,
    kind: str | None = None,
    contractor: str | None = None,
) -> list[HeatCell]:
    """The cells with at least one ticket, by site, building, floor (lowest first), kind."""
    where = _filters(period, site, building, kind, contractor)
    active = func.sum(case((Ticket.state.in_(_ACTIVE), 1), else_=0))
    critical = func.sum(case((Ticket.severity == "critical", 1), else_=0))
    repeats = func.sum(case((Ticket.repeat_count > 1, 1), else_=0))
    cells: dict[tuple[str, str, str | None, str], HeatCell] = {}

    def cell(site_name: str, building_name: str, floor: str | None, kind_name: str) -> HeatCell:
        key = (site_name, building_name, floor, kind_name)
        return cells.setdefault(key, HeatCell(site_name, building_name, floor, kind_name))

    ledger = and_(Equipment.site == Ticket.site, Equipment.device_id == Ticket.device_id)
    with Session(engine) as session:
        grouped = session.execute(
            select(
                Ticket.site,
                Ticket.building,
                Equipment.floor,
                Ticket.kind,
                func.count(Ticket.id),
                active,
                critical,
                repeats,
            )
            .outerjoin(Equipment, ledger)
            .where(*where, Ticket.kind != PLACE_KIND)
            .group_by(Ticket.site, Ticket.building, Equipment.floor, Ticket.kind)
        ).all()
        for site_name, name, floor, kind_name, count, n_active, n_critical, n_repeats in grouped:
            cell(site_name, name, floor, kind_name).add(
                count, n_active or 0, n_critical or 0, n_repeats or 0
            )
        places = session.execute(
            select(
                Ticket.site,
                Ticket.building,
                Ticket.evidence,
                Ticket.state,
                Ticket.severity,
                Ticket.repeat_count,
            ).where(*where, Ticket.kind == PLACE_KIND)
        ).all()
    for site_name, name, evidence, state, severity, repeat_count in places:
        location = (evidence or {}).get("location") or {}
        floor = location.get("floor") if isinstance(location, dict) else None
        place_floor = floor if isinstance(floor, str) and floor else None
        cell(site_name, name, place_floor, PLACE_KIND).add(
            1, int(state in _ACTIVE), int(severity == "critical"), int(repeat_count > 1)
        )
    return sorted(cells.values(), key=lambda c: (c.site, c.building, floor_order(c.floor), c.kind))


def totals(cells: Iterable[HeatCell]) -> HeatCell:
    """Every cell added up (building, floor and kind left empty)."""
    total = HeatCell("", "", None, "")
    for c in cells:
        total.add(c.tickets, c.active, c.critical, c.repeats)
    return total
