"""Dead letters: bad input kept with its reason, never silently dropped.

The raw payload is kept (truncated) as text when it is UTF-8, as base64
otherwise, so that a message can be inspected and replayed after a fix.
A replayed letter stays in the table with `replayed_at` set: it remains
evidence of what was refused, and a second replay skips it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Engine, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from contract.clock import utcnow
from storage.sql import Base


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    payload_encoding: Mapped[str] = mapped_column(String(8))
    payload_size: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text)
    # Added after the first release: revision 0001 adds it to databases made before then.
    replayed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, default=None
    )

    def raw_payload(self) -> bytes:
        """The bytes as received (their first `keep_bytes` when `truncated`)."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    topic: str
    payload: bytes
    reason: str


def _printable(text: str, limit: int) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[:limit])


class DeadLetterStore:
    def __init__(self, engine: Engine, keep_bytes: int = 2048) -> None:
        self.engine = engine
        self.keep_bytes = keep_bytes

    def _row(self, message: RejectedMessage) -> DeadLetter:
        kept = message.payload[: self.keep_bytes]
        try:
            payload, encoding = kept.decode("utf-8"), "utf-8"
            if "\x00" in payload:
                raise UnicodeDecodeError("utf-8", kept, 0, 1, "NUL")
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(kept).decode("ascii"), "base64"
        return DeadLetter(
            topic=_printable(message.topic, 1024),
            payload=payload,
            payload_encoding=encoding,
            payload_size=len(message.payload),
            truncated=len(message.payload) > self.keep_bytes,
            # A reason may quote what was refused (a lone surrogate, a NUL), which
            # neither database would take: the row must never fail for it.
            reason=_printable(message.reason, 1000),
        )

    def add_many(self, messages: Sequence[RejectedMessage]) -> None:
        if not messages:
            return
        with Session(self.engine) as session:
            session.add_all([self._row(m) for m in messages])
            session.commit()

    def list(self, limit: int = 100, offset: int = 0) -> Sequence[DeadLetter]:
        with Session(self.engine) as session:
            return session.scalars(
                select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit).offset(offset)
            ).all()

    def find(
        self,
        ids: Sequence[int] = (),
        reason: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        include_replayed: bool = False,
        newest_first: bool = False,
    ) -> Sequence[DeadLetter]:
        """Letters matching every given filter; `reason` is a case-insensitive substring."""
        query = select(DeadLetter)
        if ids:
            query = query.where(DeadLetter.id.in_(list(ids)))
        if reason:
            query = query.where(DeadLetter.reason.icontains(reason, autoescape=True))
        if since is not None:
            query = query.where(DeadLetter.received_at >= since)
        if not include_replayed:
            query = query.where(DeadLetter.replayed_at.is_(None))
        order = DeadLetter.id.desc() if newest_first else DeadLetter.id
        query = query.order_by(order).limit(limit)
        with Session(self.engine) as session:
            return session.scalars(query).all()

    def mark_replayed(self, letter_id: int, at: datetime | None = None) -> bool:
        """Record a replay the broker acknowledged; False if it was already recorded."""
        with Session(self.engine) as session:
            result = session.execute(
                update(DeadLetter)
                .where(DeadLetter.id == letter_id, DeadLetter.replayed_at.is_(None))
                .values(replayed_at=at or utcnow())
            )
            session.commit()
            return bool(getattr(result, "rowcount", 0))
