"""The maintenance scheduler: for every active plan, the work orders due within the plan's
lead time, one per device it covers (a per-kind plan: every in-service device of that kind
in the ledger, in its site if it names one). Idempotent: it may run in every process, as
often as wanted; each (plan, due date, device) opens once (`work_orders`).

Due dates are looked for from the plan's start, or from the day it was created if later
(a plan never opens work orders for the past it did not exist in), and at most `LOOKBACK`
back. The run reads the plans and the recent work orders once, then the ledger per plan
that still has a work order to open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

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

# A due date missed for longer (the service down) is not opened late.
LOOKBACK = timedelta(days=31)
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
        since = today - LOOKBACK
        with Session(self.engine) as session:
            plans = session.scalars(
                select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
            ).all()
        taken = self._taken(since)
        for plan in plans:
            created = (aware(plan.created_at) or now).astimezone(UTC).date()
            first = max(plan.start, created, since)
            last = today + timedelta(plan.lead_days)
            dues = due_dates(plan.start, plan.every_days, plan.rrule, first, last)
            if not dues or (
                plan.device_id is not None
                and all((plan.id, due, plan.site, plan.device_id) in taken for due in dues)
            ):
                continue  # a device plan whose work orders exist asks nothing more
            for target in self.targets(plan):
                for due in dues:
                    if (plan.id, due, target.site, target.device_id) in taken:
                        continue
                    opened = self.opener.open(plan, due, target)
                    if opened is not None:
                        run.opened.append(opened)
        run.overruns = self.overruns.check()
        if run.opened:
            log.info("%d maintenance work order(s) opened", len(run.opened))
        return run

    def _taken(self, since: date) -> set[tuple[int, date, str, str]]:
        """Every work order due from `since` on, in one read."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(
                    MaintenanceWorkOrder.plan_id,
                    MaintenanceWorkOrder.due_date,
                    MaintenanceWorkOrder.site,
                    MaintenanceWorkOrder.device_id,
                ).where(MaintenanceWorkOrder.due_date >= since)
            ).all()
        return {(plan_id, due, site, device) for plan_id, due, site, device in rows}

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
