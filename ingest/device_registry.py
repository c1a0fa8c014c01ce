"""The device registry: every device ingest has heard from, with its liveness.

Ingest keeps liveness in memory (it changes with every message) and writes the
changed devices here once per batch, so the API and other processes can read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from facmon.db import Base
from facmon.tickets import utcnow


class Device(Base):
    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_sample_ts_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(slots=True)
class DeviceState:
    device_id: str
    site: str
    building: str
    kind: str
    online: bool = True
    last_seen_ms: int | None = None
    last_sample_ts_ms: int | None = None
    last_seq: int | None = None
    samples: int = 0


class DeviceRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, states: Sequence[DeviceState]) -> None:
        if not states:
            return
        with Session(self.engine) as session:
            ids = [state.device_id for state in states]
            existing = {
                row.device_id: row
                for row in session.scalars(select(Device).where(Device.device_id.in_(ids)))
            }
            for state in states:
                row = existing.get(state.device_id)
                if row is None:
                    row = Device(device_id=state.device_id, samples=0)
                    session.add(row)
                row.site, row.building, row.kind = state.site, state.building, state.kind
                row.online = state.online
                row.last_seen_ms = state.last_seen_ms
                row.last_sample_ts_ms = state.last_sample_ts_ms
                row.last_seq = state.last_seq
                row.samples = state.samples
                row.updated_at = utcnow()
            session.commit()

    def list(self, kind: str | None = None) -> Sequence[Device]:
        with Session(self.engine) as session:
            query = select(Device).order_by(Device.device_id)
            if kind:
                query = query.where(Device.kind == kind)
            return session.scalars(query).all()

    def get(self, device_id: str) -> Device | None:
        with Session(self.engine) as session:
            return session.get(Device, device_id)
