"""The equipment ledger as the integrity rate sees it: who counts, from when, until when.

The integrity rate (设备完好率) is a share of the ledger's equipment, not of the devices
that happen to report: a device that never reported is in the ledger and not intact.
Each ledger device contributes the part of a period it was answerable for, and nothing
before the ledger registered it (a ledger imported today says nothing of last month):

- `in_service`: the whole period;
- `decommissioned`: up to its decommissioning time (before it, it was in service);
- `under_maintenance`: up to the moment its record last changed (when it was put under
  maintenance, as far as the ledger knows), and not after: a planned maintenance window is
  left out of both the numerator and the denominator, the industry's usual practice;
- `pending` (not yet confirmed by the quality team): never.

The ledger keeps the current status, not its history, so a device back in service counts
again for every period computed from then on, including its maintenance time.

>>> from datetime import UTC, datetime
>>> t = datetime(2027, 1, 1, tzinfo=UTC)
>>> LedgerDevice("hq", "p1", "plant", "pump", "pending", None, None, t).answerable_ms(0, 10)
[]
>>> LedgerDevice("hq", "p1", "plant", "pump", "in_service", 60, None, t).answerable_ms(0, 10)
[(0, 10)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import aware, to_ms
from quality.ledger.models import Equipment, Status

SILENCE_FACTOR: Final = 3.0
"""A device is silent, hence not intact, after this many of its ledger reporting intervals
without a telemetry sample (the offline detector's own default factor)."""


@dataclass(frozen=True, slots=True)
class LedgerDevice:
    """One ledger row, as plain values."""

    site: str
    device_id: str
    building: str
    kind: str
    status: str
    reporting_interval_s: int | None
    decommissioned_at: datetime | None
    status_since: datetime
    """When the record last changed: the start of a maintenance, for one under maintenance."""
    registered_at: datetime | None = None
    """When the ledger first held the device: it answers for nothing before."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.site, self.device_id)

    @property
    def silence_limit_ms(self) -> int | None:
        """Silence longer than this is not intact; None when the ledger names no interval."""
        if not self.reporting_interval_s:
            return None
        return int(self.reporting_interval_s * SILENCE_FACTOR * 1000)

    def answerable_ms(self, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """The part of [start, end) the device counts in the integrity rate (epoch ms)."""
        if self.status == Status.PENDING:
            return []
        until = end_ms
        if self.status == Status.DECOMMISSIONED:
            if self.decommissioned_at is None:
                return []
            until = min(end_ms, to_ms(self.decommissioned_at))
        elif self.status == Status.UNDER_MAINTENANCE:
            until = min(end_ms, to_ms(self.status_since))
        elif self.status != Status.IN_SERVICE:
            return []
        if self.registered_at is not None:
            start_ms = max(start_ms, to_ms(self.registered_at))
        return [(start_ms, until)] if start_ms < until else []


def is_denominator(ledger: Iterable[LedgerDevice]) -> bool:
    """Whether the ledger is the integrity rate's denominator: it holds a confirmed device.

    A ledger of pending devices only (added from their telemetry, awaiting the quality
    team) is as good as empty: the devices that have reported remain the denominator.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2027, 1, 1, tzinfo=UTC)
    >>> is_denominator([LedgerDevice("hq", "p1", "plant", "pump", "pending", None, None, t)])
    False
    """
    return any(device.status != Status.PENDING for device in ledger)


def load_ledger(engine: Engine) -> list[LedgerDevice]:
    """Every ledger device (all statuses), in (site, device_id) order."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                Equipment.site,
                Equipment.device_id,
                Equipment.building,
                Equipment.kind,
                Equipment.status,
                Equipment.reporting_interval_s,
                Equipment.decommissioned_at,
                Equipment.updated_at,
                Equipment.created_at,
            ).order_by(Equipment.site, Equipment.device_id)
        ).all()
    return [
        LedgerDevice(
            row.site,
            row.device_id,
            row.building,
            row.kind,
            row.status,
            row.reporting_interval_s,
            aware(row.decommissioned_at),
            aware(row.updated_at) or row.updated_at,
            aware(row.created_at),
        )
        for row in rows
    ]
