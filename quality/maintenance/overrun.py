"""Overrunning maintenance (保养超期), flagged once each:

- a work order not verified (复核) by its planned end: `overrun_at` on the work order and a
  note in its ticket's history;
- an explicit window past its end while the ledger still marks the device under
  maintenance: `overrun_at` on the window and a finding of fault type
  `maintenance_overrun`, which opens a ticket as any finding does.

Each flag is a conditional update (`... WHERE overrun_at IS NULL`), so two processes
checking at once flag it once.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.ledger.models import Equipment, Status
from quality.maintenance.models import MaintenanceWindow, MaintenanceWorkOrder
from quality.tickets import TicketStore
from quality.tickets.lifecycle import Role
from quality.tickets.models import Ticket, TicketHistory
from quality.tickets.store import SYSTEM_ACTOR

OVERRUN_FAULT = "maintenance_overrun"


class OverrunWatch:
    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets
        self.engine = tickets.engine

    def check(self) -> int:
        """Flag what newly overran; how many were flagged."""
        return self._work_orders() + self._windows()

    def _work_orders(self) -> int:
        now = self.tickets.clock.now()
        flagged = 0
        with Session(self.engine) as session:
            late = session.execute(
                select(MaintenanceWorkOrder.id, MaintenanceWorkOrder.due_at, Ticket)
                .join(Ticket, Ticket.id == MaintenanceWorkOrder.ticket_id)
                .where(
                    MaintenanceWorkOrder.overrun_at.is_(None),
                    MaintenanceWorkOrder.due_at < now,
                    Ticket.verified_at.is_(None),
                )
            ).all()
            for work_order_id, due_at, ticket in late:
                won = session.execute(
                    update(MaintenanceWorkOrder)
                    .where(
                        MaintenanceWorkOrder.id == work_order_id,
                        MaintenanceWorkOrder.overrun_at.is_(None),
                    )
                    .values(overrun_at=now)
                    .returning(MaintenanceWorkOrder.id)
                ).first()
                if won is None:
                    continue
                session.add(
                    TicketHistory(
                        ticket_id=ticket.id,
                        at=now,
                        actor=SYSTEM_ACTOR,
                        role=Role.SYSTEM.value,
                        from_state=ticket.state,
                        to_state=ticket.state,
                        note=(
                            "maintenance overran: not verified by its planned end "
                            f"{due_at:%Y-%m-%d %H:%M} "
                            "UTC (保养超期：计划完成时间前未复核)"
                        ),
                    )
                )
                flagged += 1
            session.commit()
        return flagged

    def _windows(self) -> int:
        now = self.tickets.clock.now()
        with Session(self.engine) as session:
            late = session.execute(
                select(MaintenanceWindow, Equipment.building, Equipment.kind)
                .join(
                    Equipment,
                    (Equipment.site == MaintenanceWindow.site)
                    & (Equipment.device_id == MaintenanceWindow.device_id),
                )
                .where(
                    MaintenanceWindow.overrun_at.is_(None),
                    MaintenanceWindow.ends_at < now,
                    Equipment.status == Status.UNDER_MAINTENANCE.value,
                )
            ).all()
        flagged = 0
        for window, building, kind in late:
            with Session(self.engine) as session:
                won = session.execute(
                    update(MaintenanceWindow)
                    .where(
                        MaintenanceWindow.id == window.id, MaintenanceWindow.overrun_at.is_(None)
                    )
                    .values(overrun_at=now)
                    .returning(MaintenanceWindow.id)
                ).first()
                session.commit()
            if won is None:
                continue
            result = self.tickets.record(
                Finding(
                    DeviceRef(window.site, building, kind, window.device_id),
                    OVERRUN_FAULT,
                    Severity.MINOR,
                    "maintenance_window",
                    "1",
                    int(now.timestamp() * 1000),
                    f"maintenance window {window.id} ended {window.ends_at:%Y-%m-%d %H:%M} UTC "
                    "and the device is still marked under maintenance "
                    "(保养时段已结束，设备仍为维修保养中)",
                    {"window_id": window.id, "reason": window.reason},
                    summary_key="maintenance_overrun",
                    summary_params={
                        "window_id": window.id,
                        "ended": f"{window.ends_at:%Y-%m-%d %H:%M}",
                    },
                )
            )
            with Session(self.engine) as session:
                session.execute(
                    update(MaintenanceWindow)
                    .where(MaintenanceWindow.id == window.id)
                    .values(overrun_ticket_id=result.ticket_id)
                )
                session.commit()
            flagged += 1
        return flagged
