"""What the ledger hands out: plain records, detached from the database session."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from contract.clock import aware
from quality.ledger.models import Contractor, Equipment


class ContractorRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    contact_person: str | None
    phone: str | None
    email: str | None
    kinds: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Contractor) -> ContractorRecord:
        record = cls.model_validate(row)
        record.created_at = aware(record.created_at) or record.created_at
        record.updated_at = aware(record.updated_at) or record.updated_at
        record.kinds = sorted(record.kinds or [])
        return record


class EquipmentRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site: str
    building: str
    floor: str | None
    location: str | None
    kind: str
    device_id: str
    name: str
    model: str | None
    manufacturer: str | None
    serial: str | None
    install_date: date | None
    contractor_id: int | None
    contractor: str | None = None
    reporting_interval_s: int | None
    criticality: str
    status: str
    decommissioned_at: datetime | None
    decommission_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Equipment, contractor: str | None) -> EquipmentRecord:
        record = cls.model_validate(row)
        record.contractor = contractor
        record.decommissioned_at = aware(record.decommissioned_at)
        record.created_at = aware(record.created_at) or record.created_at
        record.updated_at = aware(record.updated_at) or record.updated_at
        return record
