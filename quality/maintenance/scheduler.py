"""The maintenance scheduler: for every active plan, the work orders due within the plan's
lead time, one per device it covers (a per-kind plan: every in-service device of that kind
in the ledger, in its site if it names one). Idempotent: it may run in every process, as
often as wanted; each (plan, due date, device) opens once (`work_orders`).

Due dates are looked for from the plan's start, or from the day it was created if later,
so a plan never opens work orders for the past it did not exist in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.ledger.models import Equipment, Status
from quality.maintenance.models import MaintenancePlan, MaintenanceWorkOrder
from quality.maintenance.overrun import OverrunWatch
from quality.maintenance.rules import due_dates
from quality.maintenance.work_orders import Opened, Target, WorkOrderOpener
from quality.tickets import TicketStore

log = logging.getLogger(__name__)

_SERVICEABLE = (Status.IN_SERVICE.value, Status.UNDER_MAINTENANCE.value)


@dataclass(slots=True)
class SchedulerRun:
    opened: list[Opened] = field(default_factory=list)
    overruns: int = 0


class MaintenanceScheduler:
    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets
        self.engine = tickets.engine
        self.opener = WorkOrderOpener(tickets)
        self.overruns = OverrunWatch(tickets)

    def run_once(self) -> SchedulerRun:
        run = SchedulerRun()
        now = self.tickets.clock.now()
        today = now.astimezone(UTC).date()
        with Session(self.engine) as session:
            plans = session.scalars(
                select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
            ).all()
        for plan in plans:
            created = (aware(plan.created_at) or now).astimezone(UTC).date()
            first = max(plan.start, created)
            dues = due_dates(
                plan.start, plan.every_days, plan.rrule, first, today + timedelta(plan.lead_days)
            )
            if not dues:
                continue
            taken = self._taken(plan, dues[0])
            for target in self.targets(plan):
                for due in dues:
                    if (due.isoformat(), target.site, target.device_id) in taken:
                        continue
                    opened = self.opener.open(plan, due, target)
                    if opened is not None:
                        run.opened.append(opened)
        run.overruns = self.overruns.check()
        if run.opened:
            log.info("%d maintenance work order(s) opened", len(run.opened))
        return run

    def _taken(self, plan: MaintenancePlan, since: object) -> set[tuple[str, str, str]]:
        """The plan's work orders from `since` on, in one read (a per-kind plan over many
        devices asks nothing per device once its work orders exist)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(
                    MaintenanceWorkOrder.due_date,
                    MaintenanceWorkOrder.site,
                    MaintenanceWorkOrder.device_id,
                ).where(
                    MaintenanceWorkOrder.plan_id == plan.id,
                    MaintenanceWorkOrder.due_date >= since,
                )
            ).all()
        return {(due.isoformat(), site, device) for due, site, device in rows}

    def targets(self, plan: MaintenancePlan) -> list[Target]:
        query = select(Equipment.site, Equipment.device_id, Equipment.building, Equipment.kind)
        if plan.device_id is not None:
            query = query.where(
                Equipment.site == plan.site,
                Equipment.device_id == plan.device_id,
                Equipment.status.in_(_SERVICEABLE),
            )
        else:
            query = query.where(
                Equipment.kind == plan.kind, Equipment.status == Status.IN_SERVICE.value
            )
            if plan.site is not None:
                query = query.where(Equipment.site == plan.site)
        with Session(self.engine) as session:
            rows = session.execute(query.order_by(Equipment.site, Equipment.device_id)).all()
        return [Target(*row) for row in rows]
