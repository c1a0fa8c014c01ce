"""Detectors' learnt state, kept in the SQL database so that a restart does not forget it.

One row per (site, device, detector): the detector's version and state layout when it was
saved, the newest sample time the state has seen (`last_ts_ms`, where a catch-up replay
starts), and the state itself as opaque bytes. This module stores bytes and never
interprets them: what a state is, and whether it still fits the code, is for
`ingest.detector_state` to decide. A save is one upsert statement for every row, in one
transaction, on SQLite and PostgreSQL alike.

>>> import tempfile
>>> from storage.sql import make_engine
>>> engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/state.sqlite")
>>> DetectorState.metadata.create_all(engine)
>>> store = DetectorStateStore(engine)
>>> row = StateRow("s", "b", "pump", "p1", "pump_bearing_wear", "1", "ab12", 1_000, b"...")
>>> store.save([row]); store.save([row]); [r.detector for r in store.load()]
['pump_bearing_wear']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Engine, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from contract.clock import utcnow
from storage.sql import Base, upsert_insert


class DetectorState(Base):
    __tablename__ = "detector_state"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    building: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(32))
    layout: Mapped[str] = mapped_column(String(64))
    last_ts_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True, slots=True)
class StateRow:
    """One detector's saved state, as the keeper hands it over and gets it back."""

    site: str
    building: str
    kind: str
    device_id: str
    detector: str
    version: str
    layout: str
    last_ts_ms: int | None
    state: bytes


_COLUMNS = ("site", "building", "kind", "device_id", "detector", "version", "layout")


class DetectorStateStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine, "detector state")

    def save(self, rows: Sequence[StateRow]) -> None:
        """Insert or overwrite every row, in one transaction (all or none)."""
        if not rows:
            return
        now = utcnow()
        values = [
            {
                **{name: getattr(row, name) for name in _COLUMNS},
                "last_ts_ms": row.last_ts_ms,
                "state": row.state,
                "saved_at": now,
            }
            for row in rows
        ]
        statement = self._insert(DetectorState.__table__)
        keys = ("site", "device_id", "detector")
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in values[0] if name not in keys},
        )
        with self.engine.begin() as connection:
            connection.execute(statement, values)  # the driver's executemany

    def load(self) -> Iterator[StateRow]:
        """Every saved row (streamed: a fleet has tens of thousands)."""
        table = DetectorState.__table__
        with self.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=2_000).execute(
                select(table)
            )
            for r in result:
                yield StateRow(
                    r.site,
                    r.building,
                    r.kind,
                    r.device_id,
                    r.detector,
                    r.version,
                    r.layout,
                    r.last_ts_ms,
                    bytes(r.state),
                )

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(DetectorState)).scalar_one()
            )
