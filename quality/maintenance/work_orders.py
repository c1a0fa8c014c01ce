"""Opening a maintenance work order (保养工单): a ticket of fault type `maintenance` that
goes through the same loop as any other (派单-接单-整改-复核-销项), dispatched to the plan's
contractor when the plan names one.

The work order row and its ticket are written in one transaction, keyed by (plan, due
date, site, device): a second scheduler inserting the same key finds it taken and rolls
its attempt back, so each due date opens one work order per device, once. A device with
a maintenance ticket still active gets no second ticket: the new due date joins it, with
a note in its history. The ticket is not a repeat fault and earns no card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quality.maintenance.models import MAINTENANCE_FAULT, MaintenancePlan, MaintenanceWorkOrder
from quality.maintenance.rules import due_moment
from quality.tickets import TicketStore
from quality.tickets.lifecycle import ACTIVE_STATES, Role, State
from quality.tickets.models import Ticket, TicketHistory
from quality.tickets.outbox import enqueue
from quality.tickets.store import SYSTEM_ACTOR, ticket_public
from storage.sql import upsert_insert

log = logging.getLogger(__name__)

SEVERITY = "minor"
DETECTOR = "maintenance_plan"
_ACTIVE = [s.value for s in ACTIVE_STATES]


@dataclass(frozen=True, slots=True)
class Target:
    """A device a plan covers, as the equipment ledger describes it."""

    site: str
    device_id: str
    building: str
    kind: str


@dataclass(frozen=True, slots=True)
class Opened:
    work_order_id: int
    ticket_id: int
    new_ticket: bool


def summary_of(plan: MaintenancePlan, due: date) -> str:
    return f"planned maintenance due {due.isoformat()} (保养计划到期): {plan.name}"


class WorkOrderOpener:
    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets
        self.engine = tickets.engine

    def open(self, plan: MaintenancePlan, due: date, target: Target) -> Opened | None:
        """Open the work order of `plan` due on `due` for `target`; None when it exists."""
        opened: Opened | None = None
        for _attempt in range(5):
            try:
                opened = self._open_once(plan, due, target)
                break
            except IntegrityError:  # another scheduler got in first: look again
                continue
        else:
            raise RuntimeError(f"could not open the work order of plan {plan.id} due {due}")
        if opened is not None and opened.new_ticket and plan.contractor:
            self.tickets.assign(
                opened.ticket_id,
                plan.contractor,
                SYSTEM_ACTOR,
                Role.SYSTEM,
                f"dispatched by maintenance plan {plan.id} (按保养计划派单)",
                contractor=plan.contractor,
            )
        return opened

    def _open_once(self, plan: MaintenancePlan, due: date, target: Target) -> Opened | None:
        now = self.tickets.clock.now()
        with Session(self.engine) as session:
            key = (
                MaintenanceWorkOrder.plan_id == plan.id,
                MaintenanceWorkOrder.due_date == due,
                MaintenanceWorkOrder.site == target.site,
                MaintenanceWorkOrder.device_id == target.device_id,
            )
            if session.scalar(select(MaintenanceWorkOrder.id).where(*key)) is not None:
                return None
            active = session.scalars(
                select(Ticket).where(
                    Ticket.site == target.site,
                    Ticket.device_id == target.device_id,
                    Ticket.fault_type == MAINTENANCE_FAULT,
                    Ticket.state.in_(_ACTIVE),
                )
            ).first()
            ticket = active or self._new_ticket(session, plan, due, target, now)
            session.flush()  # the active-ticket index refuses a second one: IntegrityError
            insert = upsert_insert(self.engine, "opening a maintenance work order")
            row = session.execute(
                insert(MaintenanceWorkOrder)
                .values(
                    plan_id=plan.id,
                    due_date=due,
                    due_at=due_moment(due),
                    site=target.site,
                    device_id=target.device_id,
                    kind=target.kind,
                    ticket_id=ticket.id,
                    opened_at=now,
                )
                .on_conflict_do_nothing(index_elements=["plan_id", "due_date", "site", "device_id"])
                .returning(MaintenanceWorkOrder.id)
            ).first()
            if row is None:  # taken meanwhile
                session.rollback()
                return None
            note = summary_of(plan, due)
            if active is not None:
                note = f"{note}; joins this open maintenance work order (并入未完成的保养工单)"
            session.add(
                TicketHistory(
                    ticket_id=ticket.id,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    role=Role.SYSTEM.value,
                    from_state=None if active is None else ticket.state,
                    to_state=ticket.state,
                    note=note,
                )
            )
            if active is None and self.tickets.sinks:
                enqueue(
                    session,
                    self.tickets.sinks,
                    "opened",
                    ticket.id,
                    {"ticket": ticket_public(ticket)},
                    now,
                )
            session.commit()
            return Opened(row[0], ticket.id, new_ticket=active is None)

    def _new_ticket(
        self,
        session: Session,
        plan: MaintenancePlan,
        due: date,
        target: Target,
        now: datetime,
    ) -> Ticket:
        deadlines = self.tickets.policy.deadlines(SEVERITY)
        end = due_moment(due)
        ticket = Ticket(
            device_id=target.device_id,
            site=target.site,
            building=target.building,
            kind=target.kind,
            fault_type=MAINTENANCE_FAULT,
            severity=SEVERITY,
            detector_severity=SEVERITY,
            state=State.OPEN.value,
            summary=summary_of(plan, due),
            summary_key="planned_maintenance",
            summary_params={"due": due.isoformat(), "plan": plan.name},
            detector=DETECTOR,
            detector_version="1",
            evidence={
                "plan_id": plan.id,
                "plan": plan.name,
                "due_date": due.isoformat(),
                "checklist": plan.checklist,
                "contractor": plan.contractor,
            },
            onset_ms=int(now.timestamp() * 1000),
            opened_at=now,
            updated_at=now,
            occurrences=1,
            dispatch_due_at=min(now + deadlines.dispatch, end),
            rectify_due_at=max(end, now),
            repeat_count=1,
            previous_ticket_ids=[],
            card="none",
            dispatch_breached=False,
            rectify_breached=False,
            escalation_level=0,
            reopen_count=0,
        )
        session.add(ticket)
        return ticket
