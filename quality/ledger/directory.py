"""What ingest asks of the ledger: which devices it lists, and registering the ones it
does not as *pending* for the quality team to confirm.

Reads are one narrow query (two columns); a registration is one insert that leaves a row
already there untouched (a device confirmed meanwhile keeps its record).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from contract.clock import utcnow
from contract.topics import DeviceRef
from quality.ledger.models import DEFAULT_CRITICALITY, Equipment, Status
from storage.sql import upsert_insert

DeviceKey = tuple[str, str]  # (site, device_id): the same id in two sites is two devices


class LedgerDirectory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def known(self) -> set[DeviceKey]:
        """Every (site, device_id) the ledger holds, whatever its status."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(Equipment.site, Equipment.device_id))
            return {(site, device_id) for site, device_id in rows}

    def register_pending(self, devices: Sequence[DeviceRef], now: datetime | None = None) -> int:
        """Add each device as `pending` unless the ledger has it already; the number of
        rows added."""
        if not devices:
            return 0
        now = now or utcnow()
        rows = [
            {
                "site": d.site,
                "building": d.building,
                "kind": d.kind,
                "device_id": d.device_id,
                "name": d.device_id,
                "status": Status.PENDING.value,
                "criticality": DEFAULT_CRITICALITY.value,
                "created_at": now,
                "updated_at": now,
            }
            for d in {(d.site, d.device_id): d for d in devices}.values()
        ]
        insert = upsert_insert(self.engine, "registering pending devices")
        added = 0
        with self.engine.begin() as connection:
            for start in range(0, len(rows), 500):  # one multi-row statement per chunk
                statement = (
                    insert(Equipment)
                    .values(rows[start : start + 500])
                    .on_conflict_do_nothing(index_elements=["site", "device_id"])
                    .returning(Equipment.id)  # rowcount is not reliable here on psycopg
                )
                added += len(connection.execute(statement).all())
        return added
