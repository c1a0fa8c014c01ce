"""The device registry: every device ingest has heard from, with its liveness.

A device is its site and its id: `door-1` in two sites is two rows (the table's primary
key is (site, device_id)).

Ingest keeps liveness in memory (it changes with every message) and writes the
changed devices here with its batches, so the API and other processes can read
it: new devices and online/offline changes at once, a device heard steadily at
most every `BatchPolicy.registry_refresh_s`. The write is one upsert statement
run for all rows: with thousands of devices per batch, loading and flushing ORM
objects was half of the writer thread's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final

from sqlalchemy import BigInteger, Boolean, DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from contract.clock import utcnow
from storage.sql import Base, upsert_insert


class Device(Base):
    __tablename__ = "devices"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
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

    def snapshot(self) -> DeviceState:
        """A copy for the writer thread (`dataclasses.replace` costs five times more)."""
        return DeviceState(
            self.device_id,
            self.site,
            self.building,
            self.kind,
            self.online,
            self.last_seen_ms,
            self.last_sample_ts_ms,
            self.last_seq,
            self.samples,
        )


# Every field of the in-memory state is a column of the same name.
STATE_COLUMNS: Final = tuple(f.name for f in fields(DeviceState))


class DeviceRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine, "the device registry")

    def save(self, states: Sequence[DeviceState]) -> None:
        """Insert new devices and overwrite known ones, in one transaction."""
        if not states:
            return
        now = utcnow()
        rows = [
            {**{name: getattr(state, name) for name in STATE_COLUMNS}, "updated_at": now}
            for state in states
        ]
        statement = self._insert(Device.__table__)
        keys = ("site", "device_id")
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in rows[0] if name not in keys},
        )
        with self.engine.begin() as connection:
            connection.execute(statement, rows)  # the driver's executemany

    def list(self, kind: str | None = None, site: str | None = None) -> Sequence[Device]:
        with Session(self.engine) as session:
            query = select(Device).order_by(Device.site, Device.device_id)
            if kind:
                query = query.where(Device.kind == kind)
            if site:
                query = query.where(Device.site == site)
            return session.scalars(query).all()

    def get(self, site: str, device_id: str) -> Device | None:
        with Session(self.engine) as session:
            return session.get(Device, (site, device_id))

    def named(self, device_id: str) -> Sequence[Device]:
        """Every device with this id, one per site (for a path that names no site: more
        than one is ambiguous)."""
        with Session(self.engine) as session:
            return session.scalars(
                select(Device).where(Device.device_id == device_id).order_by(Device.site)
            ).all()
