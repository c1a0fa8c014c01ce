"""Ticket tables: tickets, their occurrences, history, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import SchemaItem, Table
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement

from contract.clock import aware as aware  # re-exported: the API's schemas use it
from quality.tickets.lifecycle import ACTIVE_STATES
from storage.sql import Base

_ACTIVE_SQL = "state IN (" + ", ".join(f"'{s.value}'" for s in ACTIVE_STATES) + ")"
# The text the ticket list's free-text search reads (quality.tickets.listing), in one
# expression so that one trigram index serves it on PostgreSQL.
SEARCH_SQL = "(summary || ' ' || device_id || ' ' || site || ' ' || building)"
TRIGRAMS_IN_PUBLIC = text(
    "SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_trgm' AND n.nspname = 'public'"
)


def _trigrams_in_public(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[Table] | None = None,
    state: Any | None = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    """Whether the trigram index can be made: without pg_trgm, search scans instead."""
    return bind is not None and bind.execute(TRIGRAMS_IN_PUBLIC).scalar() is not None


# What the active tickets' list index carries besides its keys (PostgreSQL INCLUDE).
ACTIVE_LIST_COLUMNS = (
    "state",
    "severity",
    "site",
    "building",
    "kind",
    "fault_type",
    "assignee",
    "contractor",
    "dispatch_due_at",
    "acknowledge_due_at",
    "rectify_due_at",
    "recheck_due_at",
)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    building: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    fault_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    detector_severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    summary: Mapped[str] = mapped_column(Text)
    # The summary as a catalog message (`quality.i18n.summaries`), shown in the reader's
    # language; None for tickets reported by hand and older tickets (their text is shown).
    summary_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    detector: Mapped[str] = mapped_column(String(64))
    detector_version: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The responsible party the dispatch names, for cards per contractor and per team.
    contractor: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # SLA deadlines: dispatch and rectify count from the opening (or the latest reopening),
    # acknowledge from the dispatch, recheck from the rectification (None until then).
    dispatch_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    rectify_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recheck_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rectified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dispatch_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledge_breached: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    rectify_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    recheck_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Dismissed as a false alarm: never a repeat, never carded.
    false_alarm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    repeat_count: Mapped[int] = mapped_column(Integer, default=1)
    previous_ticket_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    card: Mapped[str] = mapped_column(String(8), default="none")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index(  # a device is (site, device_id): door-1 in two sites has two tickets
            "uq_ticket_active_device_fault",
            "site",
            "device_id",
            "fault_type",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_ticket_device_fault_closed", "site", "device_id", "fault_type", "closed_at"),
        # The ticket list (quality.tickets.listing): each sort key with the id that breaks
        # its ties, and the common filters ahead of the default sort, so that a page and its
        # bounded count walk an index from the cursor on.
        Index("ix_ticket_list_opened", "opened_at", "id"),
        Index("ix_ticket_list_updated", "updated_at", "id"),
        Index("ix_ticket_list_due", "rectify_due_at", "id"),
        Index("ix_ticket_list_severity", "severity", "id"),
        Index("ix_ticket_list_site_opened", "site", "opened_at", "id"),
        Index("ix_ticket_list_state_opened", "state", "opened_at", "id"),
        Index("ix_ticket_list_assignee_opened", "assignee", "opened_at", "id"),
        Index("ix_ticket_list_fault_opened", "fault_type", "opened_at", "id"),
        Index("ix_ticket_list_site_building_opened", "site", "building", "opened_at", "id"),
        Index("ix_ticket_list_kind_fault_opened", "kind", "fault_type", "opened_at", "id"),
        # The loop's working set (the active tickets, a few percent of all): by deadline, and
        # newest first with every listed filter column, so that its counts read the index only.
        Index(
            "ix_ticket_list_active_due",
            "rectify_due_at",
            "id",
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index(
            "ix_ticket_list_active_opened",
            "opened_at",
            "id",
            postgresql_include=list(ACTIVE_LIST_COLUMNS),
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        # Free-text search, PostgreSQL only: trigrams of SEARCH_SQL
        # serve `ILIKE '%word%'`. Alembic cannot compare an expression index; it is created
        # by revision 0005, or here on a new database where pg_trgm is in `public`
        # (facmon.schema creates it there first, where the server allows).
        Index(
            "ix_ticket_text_trgm",
            text(f"{SEARCH_SQL} public.gin_trgm_ops"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql", callable_=_trigrams_in_public),
    )

    @property
    def detectors(self) -> list[str]:
        """Every detector that saw the ticket's incident (`quality.tickets.incidents`), the
        one that opened it first; the others' evidence is under `evidence["joined"]`."""
        joined = (self.evidence or {}).get("joined") or {}
        return [self.detector, *sorted(name for name in joined if name != self.detector)]


class TicketOccurrence(Base):
    __tablename__ = "ticket_occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketHistory(Base):
    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class TicketComment(Base):
    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)


class TicketRecheck(Base):
    """What telemetry last showed about a rectified ticket's fault (复核 by telemetry): the
    verifier writes it when the detector's judgement changes, so that a person verifying or
    closing by hand is told, in any process, that the fault still shows."""

    __tablename__ = "ticket_rechecks"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    fault_present: Mapped[bool] = mapped_column(Boolean)
    observed_ms: Mapped[int] = mapped_column(BigInteger)
    detector: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
