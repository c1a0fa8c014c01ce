"""The ledger's tables: `equipment` (设备台账) and `contractors` (维保单位).

A device is identified by (site, device_id): `door-1` may exist at two sites. Equipment is
never deleted: it is decommissioned, with the time, so history and KPIs keep their subject.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from contract.clock import utcnow
from contract.topics import Kind
from quality.ledger.messages import Text
from storage.sql import Base

KINDS: tuple[str, ...] = tuple(k.value for k in Kind)


class Status(StrEnum):
    IN_SERVICE = "in_service"
    UNDER_MAINTENANCE = "under_maintenance"
    DECOMMISSIONED = "decommissioned"
    PENDING = "pending"


class Criticality(StrEnum):
    """The industry's A/B/C equipment classes (设备分级): A is critical to safety or to the
    whole property, B important, C ordinary."""

    A = "A"
    B = "B"
    C = "C"


KIND_WORDS: dict[str, Text] = {
    "elevator": Text("elevator", "电梯"),
    "lighting": Text("lighting", "照明"),
    "pump": Text("water pump", "水泵"),
    "access": Text("access control", "门禁"),
}
STATUS_WORDS: dict[str, Text] = {
    Status.IN_SERVICE: Text("in service", "在用"),
    Status.UNDER_MAINTENANCE: Text("under maintenance", "维修保养中"),
    Status.DECOMMISSIONED: Text("decommissioned", "已报废"),
    Status.PENDING: Text("pending", "待启用"),
}
CRITICALITY_WORDS: dict[str, Text] = {
    Criticality.A: Text("A (critical)", "A类 (关键设备)"),
    Criticality.B: Text("B (important)", "B类 (重要设备)"),
    Criticality.C: Text("C (ordinary)", "C类 (一般设备)"),
}
DEFAULT_CRITICALITY = Criticality.C


class Contractor(Base):
    __tablename__ = "contractors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    contact_person: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # The kinds of equipment it maintains, a sorted list of contract kinds.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Equipment(Base):
    __tablename__ = "equipment"
    __table_args__ = (
        UniqueConstraint("site", "device_id", name="uq_equipment_site_device_id"),
        Index("ix_equipment_site_building_floor", "site", "building", "floor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64))
    floor: Mapped[str | None] = mapped_column(String(16), nullable=True)
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    manufacturer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(128), nullable=True)
    install_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    contractor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contractors.id"), nullable=True, index=True
    )
    # How often the device should report (s); None while unknown.
    reporting_interval_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    criticality: Mapped[str] = mapped_column(String(1), default=DEFAULT_CRITICALITY.value)
    status: Mapped[str] = mapped_column(String(24), default=Status.IN_SERVICE.value, index=True)
    decommissioned_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    decommission_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
