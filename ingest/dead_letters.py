"""Dead letters: bad input kept with its reason, never silently dropped.

The raw payload is kept (truncated) as text when it is UTF-8, as base64
otherwise, so that a message can be inspected and replayed after a fix.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from facmon.db import Base
from facmon.tickets import utcnow


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
            reason=message.reason[:1000],
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
