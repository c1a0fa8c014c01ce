"""Maintenance plans (保养计划) kept in the database: create, read, replace, deactivate.

A device plan must name a device the equipment ledger lists; a plan is never deleted
once it opened work orders (their execution rate keeps its subject): it is deactivated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.ledger.messages import Text
from quality.ledger.models import Equipment
from quality.maintenance.errors import Invalid, NotFound
from quality.maintenance.models import MaintenancePlan
from quality.maintenance.validation import PlanSpec


def plan_public(plan: MaintenancePlan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "site": plan.site,
        "device_id": plan.device_id,
        "kind": plan.kind,
        "scope": "device" if plan.device_id else "kind",
        "every_days": plan.every_days,
        "rrule": plan.rrule,
        "start": plan.start.isoformat(),
        "lead_days": plan.lead_days,
        "checklist": plan.checklist,
        "contractor": plan.contractor,
        "active": plan.active,
        "created_by": plan.created_by,
        "created_at": aware(plan.created_at),
        "updated_at": aware(plan.updated_at),
    }


class PlanStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    def _check_device(self, session: Session, spec: PlanSpec) -> None:
        if spec.device_id is None:
            return
        found = session.scalar(
            select(Equipment.id).where(
                Equipment.site == spec.site, Equipment.device_id == spec.device_id
            )
        )
        if found is None:
            raise Invalid(
                Text(
                    f"device_id: {spec.site}/{spec.device_id} is not in the equipment ledger; "
                    "add it to the ledger first (POST /api/ledger/equipment)",
                    f"device_id：设备台账中没有 {spec.site}/{spec.device_id}；"
                    "请先登记到设备台账（POST /api/ledger/equipment）",
                ),
                "device_id",
            )

    def create(self, spec: PlanSpec, actor: str) -> MaintenancePlan:
        now = self.clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            self._check_device(session, spec)
            plan = MaintenancePlan(**asdict(spec), created_by=actor, created_at=now, updated_at=now)
            session.add(plan)
            session.commit()
            return plan

    def replace(self, plan_id: int, spec: PlanSpec) -> MaintenancePlan:
        with Session(self.engine, expire_on_commit=False) as session:
            plan = session.get(MaintenancePlan, plan_id)
            if plan is None:
                raise _missing(plan_id)
            self._check_device(session, spec)
            for name, value in asdict(spec).items():
                setattr(plan, name, value)
            plan.updated_at = self.clock.now()
            session.commit()
            return plan

    def deactivate(self, plan_id: int) -> MaintenancePlan:
        with Session(self.engine, expire_on_commit=False) as session:
            plan = session.get(MaintenancePlan, plan_id)
            if plan is None:
                raise _missing(plan_id)
            plan.active = False
            plan.updated_at = self.clock.now()
            session.commit()
            return plan

    def get(self, plan_id: int) -> MaintenancePlan:
        with Session(self.engine) as session:
            plan = session.get(MaintenancePlan, plan_id)
            if plan is None:
                raise _missing(plan_id)
            return plan

    def list(
        self, site: str | None = None, active: bool | None = None
    ) -> Sequence[MaintenancePlan]:
        query = select(MaintenancePlan).order_by(MaintenancePlan.id)
        if site is not None:
            query = query.where(MaintenancePlan.site == site)
        if active is not None:
            query = query.where(MaintenancePlan.active.is_(active))
        with Session(self.engine) as session:
            return session.scalars(query).all()

    def created_on(self, plan: MaintenancePlan) -> datetime:
        created = aware(plan.created_at)
        assert created is not None
        return created


def _missing(plan_id: int) -> NotFound:
    return NotFound(
        Text(f"no maintenance plan {plan_id}", f"没有编号为 {plan_id} 的保养计划"), "plan_id"
    )
