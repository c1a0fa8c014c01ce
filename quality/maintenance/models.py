"""The maintenance tables: plans, the work orders they opened, explicit windows, and the
findings suppressed during maintenance.

A work order is unique per (plan, due date, site, device): two schedulers racing insert
the same key and only one wins, so a due date opens one work order per device, once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql import Base

MAINTENANCE_FAULT = "maintenance"  # the fault type of a work order's ticket


class MaintenancePlan(Base):
    __tablename__ = "maintenance_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    # Per device: site and device_id. Per kind: kind, and site to keep it to one property.
    site: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The rule: every `every_days` from `start`, or an RFC 5545 RRULE with `start` as DTSTART.
    every_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rrule: Mapped[str | None] = mapped_column(String(500), nullable=True)
    start: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer, default=0)
    checklist: Mapped[str] = mapped_column(Text, default="")
    contractor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MaintenanceWorkOrder(Base):
    __tablename__ = "maintenance_work_orders"
    __table_args__ = (
        UniqueConstraint(
            "plan_id", "due_date", "site", "device_id", name="uq_maintenance_work_order"
        ),
        Index("ix_maintenance_work_order_due", "due_date", "site"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    # The planned end: the end of the due date (UTC). Done on time = verified by then.
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set once when the work order was found not verified by `due_at`.
    overrun_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_window_device", "site", "device_id", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set once when the window had ended and the ledger still said under maintenance.
    overrun_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    overrun_ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SuppressedFinding(Base):
    """A detector finding on a device under maintenance: kept, and no ticket opened."""

    __tablename__ = "maintenance_suppressed"
    __table_args__ = (Index("ix_maintenance_suppressed_device", "site", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    fault_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    detector: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
