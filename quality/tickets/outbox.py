"""The transactional outbox: ticket events are written in the same transaction as the
ticket change, then delivered (webhook, MQTT) at least once by a dispatcher.

A receiver that is down loses nothing: the row stays until delivery succeeds,
and the event id is stable across retries so receivers can deduplicate.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.sql import Base

SINKS = ("webhook", "mqtt")


class OutboxEvent(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    sink: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_pending", "sink", "delivered_at", "next_attempt_at"),)


def enqueue(
    session: Session,
    sinks: tuple[str, ...],
    event_type: str,
    ticket_id: int,
    body: dict[str, Any],
    now: datetime,
) -> str:
    """Add one event for every enabled sink to the caller's transaction."""
    event_id = str(uuid.uuid4())
    payload = json.dumps(
        {"event_id": event_id, "type": event_type, "occurred_at": now.isoformat(), **body},
        default=str,
        sort_keys=True,
    )
    for sink in sinks:
        session.add(
            OutboxEvent(
                event_id=event_id,
                sink=sink,
                event_type=event_type,
                ticket_id=ticket_id,
                payload=payload,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
    return event_id
