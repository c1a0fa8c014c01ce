"""Quality tickets: one active ticket per (device, fault type), enforced by the database.

A finding either opens a ticket or, when one is already active for the same
device and fault, is appended to it as an occurrence. The unique partial index
makes that race-free across processes: the losing insert fails and becomes an
occurrence instead of a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from detectors.base import Finding
from facmon.db import Base

ACTIVE_STATES = ("open", "dispatched", "rectified", "reopened")
_ACTIVE_SQL = "state IN ('open', 'dispatched', 'rectified', 'reopened')"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    fault_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text)
    detector: Mapped[str] = mapped_column(String(64))
    detector_version: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index(
            "uq_ticket_active_device_fault",
            "device_id",
            "fault_type",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )


class TicketOccurrence(Base):
    __tablename__ = "ticket_occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True, slots=True)
class RecordResult:
    ticket_id: int
    opened: bool


def _json_safe(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence goes into a JSON column on every backend: drop what JSON cannot hold."""
    result: dict[str, Any] = json.loads(json.dumps(evidence, default=str, allow_nan=False))
    return result


class TicketStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, finding: Finding) -> RecordResult:
        """Open a ticket for the finding, or append it to the active one."""
        evidence = _json_safe(
            {**finding.evidence, "detector": finding.detector, "version": finding.detector_version}
        )
        for _attempt in range(5):
            with Session(self.engine) as session:
                ticket = Ticket(
                    device_id=finding.device.device_id,
                    site=finding.device.site,
                    building=finding.device.building,
                    kind=finding.device.kind,
                    fault_type=finding.fault_type,
                    severity=finding.severity.value,
                    state="open",
                    summary=finding.summary,
                    detector=finding.detector,
                    detector_version=finding.detector_version,
                    evidence=evidence,
                    onset_ms=finding.onset_ms,
                )
                session.add(ticket)
                try:
                    session.commit()
                    return RecordResult(ticket.id, True)
                except IntegrityError:
                    session.rollback()
                # Atomic increment: concurrent writers never lose an occurrence.
                ticket_id = session.scalar(
                    update(Ticket)
                    .where(
                        Ticket.device_id == finding.device.device_id,
                        Ticket.fault_type == finding.fault_type,
                        Ticket.state.in_(ACTIVE_STATES),
                    )
                    .values(occurrences=Ticket.occurrences + 1, updated_at=utcnow())
                    .returning(Ticket.id)
                )
                if ticket_id is None:
                    session.rollback()
                    continue  # closed between our insert and our update: try again
                session.add(
                    TicketOccurrence(
                        ticket_id=ticket_id,
                        onset_ms=finding.onset_ms,
                        summary=finding.summary,
                        evidence=evidence,
                    )
                )
                session.commit()
                return RecordResult(ticket_id, False)
        raise RuntimeError("could not record finding after 5 attempts")

    @staticmethod
    def active_for(session: Session, device_id: str, fault_type: str) -> Ticket | None:
        return session.scalars(
            select(Ticket).where(
                Ticket.device_id == device_id,
                Ticket.fault_type == fault_type,
                Ticket.state.in_(ACTIVE_STATES),
            )
        ).first()

    def list(
        self,
        state: str | None = None,
        device_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        with Session(self.engine) as session:
            query = select(Ticket).order_by(Ticket.id.desc()).limit(limit).offset(offset)
            if state:
                query = query.where(Ticket.state == state)
            if device_id:
                query = query.where(Ticket.device_id == device_id)
            return session.scalars(query).all()

    def get(self, ticket_id: int) -> tuple[Ticket, list[TicketOccurrence]] | None:
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                return None
            occurrences = session.scalars(
                select(TicketOccurrence)
                .where(TicketOccurrence.ticket_id == ticket_id)
                .order_by(TicketOccurrence.id)
            ).all()
            return ticket, list(occurrences)

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)
