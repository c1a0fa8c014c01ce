"""The equipment ledger and its contractors in the relational store.

Reads filter and page; writes go through the validation models, so the store never holds
a record the API or an import would refuse. Nothing is deleted: equipment is
decommissioned (with the time and reason) and contractors are deactivated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock
from quality.ledger.messages import Text
from quality.ledger.models import Contractor, Equipment, Status
from quality.ledger.records import ContractorRecord, EquipmentRecord
from quality.ledger.validation import (
    ContractorCreate,
    ContractorUpdate,
    Decommission,
    EquipmentCreate,
    EquipmentUpdate,
)


class LedgerError(Exception):
    """A request the ledger refuses; `message` says why and what to do, in both languages."""

    def __init__(self, message: Text, field: str | None = None) -> None:
        super().__init__(message.en)
        self.message = message
        self.field = field


class NotFound(LedgerError):
    pass


class Conflict(LedgerError):
    pass


class Invalid(LedgerError):
    pass


@dataclass(frozen=True, slots=True)
class EquipmentFilter:
    site: str | None = None
    building: str | None = None
    floor: str | None = None
    kind: str | None = None
    status: str | None = None
    contractor: str | None = None
    # Case-insensitive text found in the name, the location or the device id.
    text: str | None = None


def _no_device(site: str, device_id: str) -> NotFound:
    return NotFound(
        Text(
            f"no device {device_id!r} at site {site!r} in the ledger: check both, or list "
            "the ledger with GET /api/ledger/equipment?site=…",
            f"设备台账中没有项目 {site!r} 的设备 {device_id!r}：请核对二者，或用 "
            "GET /api/ledger/equipment?site=… 查看台账",
        )
    )


def _no_contractor(name: str) -> Invalid:
    return Invalid(
        Text(
            f"no contractor named {name!r}: register it first (POST /api/ledger/contractors) "
            "or correct the name",
            f"没有名为 {name!r} 的维保单位：请先登记（POST /api/ledger/contractors）或修正名称",
        ),
        field="contractor",
    )


def _contractor_taken(name: str) -> Conflict:
    return Conflict(
        Text(
            f"a contractor named {name!r} exists already: change that one, or choose another name",
            f"已存在名为 {name!r} 的维保单位：请修改该单位，或换一个名称",
        ),
        field="name",
    )


class LedgerStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()

    # Equipment

    def search(
        self, flt: EquipmentFilter | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[EquipmentRecord], int]:
        """A page of equipment in (site, building, device_id) order, and the total matching."""
        where = _equipment_conditions(flt or EquipmentFilter())
        query = (
            select(Equipment, Contractor.name)
            .outerjoin(Contractor, Equipment.contractor_id == Contractor.id)
            .where(*where)
        )
        with Session(self.engine) as session:
            total = session.scalar(
                select(func.count())
                .select_from(Equipment)
                .outerjoin(Contractor, Equipment.contractor_id == Contractor.id)
                .where(*where)
            )
            rows = session.execute(
                query.order_by(Equipment.site, Equipment.building, Equipment.device_id)
                .limit(limit)
                .offset(offset)
            ).all()
            return [EquipmentRecord.of(row, name) for row, name in rows], int(total or 0)

    def get(self, site: str, device_id: str) -> EquipmentRecord | None:
        with Session(self.engine) as session:
            found = session.execute(
                select(Equipment, Contractor.name)
                .outerjoin(Contractor, Equipment.contractor_id == Contractor.id)
                .where(Equipment.site == site, Equipment.device_id == device_id)
            ).first()
            return None if found is None else EquipmentRecord.of(found[0], found[1])

    def create(self, new: EquipmentCreate) -> EquipmentRecord:
        now = self.clock.now()
        with Session(self.engine) as session:
            values = new.model_dump(exclude={"contractor"}, exclude_none=True)
            row = Equipment(**values, created_at=now, updated_at=now)
            row.contractor_id = _contractor_id(session, new.contractor)
            if row.status == Status.DECOMMISSIONED:
                row.decommissioned_at = now
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if self.get(new.site, new.device_id) is None:
                    raise
                raise Conflict(
                    Text(
                        f"device {new.device_id!r} is already in the ledger at site "
                        f"{new.site!r}: change it with PATCH …/{new.site}/{new.device_id}",
                        f"项目 {new.site!r} 的设备 {new.device_id!r} 已在台账中：请用 "
                        f"PATCH …/{new.site}/{new.device_id} 修改",
                    ),
                    field="device_id",
                ) from None
        found = self.get(new.site, new.device_id)
        assert found is not None
        return found

    def update(self, site: str, device_id: str, change: EquipmentUpdate) -> EquipmentRecord:
        values = change.model_dump(exclude_unset=True)
        with Session(self.engine) as session:
            row = _equipment(session, site, device_id)
            if "contractor" in values:
                row.contractor_id = _contractor_id(session, values.pop("contractor"))
            for name, value in values.items():
                setattr(row, name, value)
            if "status" in values and row.status != Status.DECOMMISSIONED:
                row.decommissioned_at = None
                row.decommission_reason = None
            row.updated_at = self.clock.now()
            session.commit()
        found = self.get(site, device_id)
        assert found is not None
        return found

    def decommission(self, site: str, device_id: str, how: Decommission) -> EquipmentRecord:
        """Take a device out of service for good, keeping its record and the time."""
        with Session(self.engine) as session:
            row = _equipment(session, site, device_id)
            if row.status == Status.DECOMMISSIONED:
                raise Conflict(
                    Text(
                        f"device {device_id!r} at site {site!r} is decommissioned already",
                        f"项目 {site!r} 的设备 {device_id!r} 已经报废",
                    ),
                    field="status",
                )
            now = self.clock.now()
            row.status = Status.DECOMMISSIONED.value
            row.decommissioned_at = how.at or now
            row.decommission_reason = how.reason
            row.updated_at = now
            session.commit()
        found = self.get(site, device_id)
        assert found is not None
        return found

    # Contractors

    def contractors(self, active: bool | None = None) -> list[ContractorRecord]:
        query = select(Contractor).order_by(Contractor.name)
        if active is not None:
            query = query.where(Contractor.active.is_(active))
        with Session(self.engine) as session:
            return [ContractorRecord.of(row) for row in session.scalars(query)]

    def contractor(self, contractor_id: int) -> ContractorRecord | None:
        with Session(self.engine) as session:
            row = session.get(Contractor, contractor_id)
            return None if row is None else ContractorRecord.of(row)

    def create_contractor(self, new: ContractorCreate) -> ContractorRecord:
        now = self.clock.now()
        with Session(self.engine) as session:
            row = Contractor(**new.model_dump(), created_at=now, updated_at=now)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise _contractor_taken(new.name) from None
            return ContractorRecord.of(row)

    def update_contractor(self, contractor_id: int, change: ContractorUpdate) -> ContractorRecord:
        with Session(self.engine) as session:
            row = session.get(Contractor, contractor_id)
            if row is None:
                raise NotFound(
                    Text(
                        f"no contractor {contractor_id}: list them with "
                        "GET /api/ledger/contractors",
                        f"没有编号为 {contractor_id} 的维保单位：可用 "
                        "GET /api/ledger/contractors 查看",
                    )
                )
            for name, value in change.model_dump(exclude_unset=True).items():
                setattr(row, name, value)
            row.updated_at = self.clock.now()
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise _contractor_taken(change.name or "") from None
            return ContractorRecord.of(row)


def _equipment(session: Session, site: str, device_id: str) -> Equipment:
    row = session.scalars(
        select(Equipment).where(Equipment.site == site, Equipment.device_id == device_id)
    ).first()
    if row is None:
        raise _no_device(site, device_id)
    return row


def _contractor_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    found = session.scalar(select(Contractor.id).where(Contractor.name == name))
    if found is None:
        raise _no_contractor(name)
    return found


def _equipment_conditions(flt: EquipmentFilter) -> Sequence[Any]:
    conditions: list[Any] = []
    for column, value in (
        (Equipment.site, flt.site),
        (Equipment.building, flt.building),
        (Equipment.floor, flt.floor),
        (Equipment.kind, flt.kind),
        (Equipment.status, flt.status),
        (Contractor.name, flt.contractor),
    ):
        if value is not None:
            conditions.append(column == value)
    if flt.text:
        conditions.append(
            or_(
                *(
                    column.icontains(flt.text, autoescape=True)
                    for column in (Equipment.name, Equipment.location, Equipment.device_id)
                )
            )
        )
    return conditions
