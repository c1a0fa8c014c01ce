"""The maintenance-plan execution rate (保养计划执行率): work orders done on time / work
orders due, per site, per kind, or both, over a period.

A work order is *due* in a period when its planned end (the end of its due date, UTC) falls
in [start, end) and has passed by `as_of`; it is *done on time* when its ticket was
verified (复核) by that planned end. A work order verified late, dismissed, or still open
counts as due and not done.

>>> from datetime import UTC, datetime
>>> t = lambda day, hour=0: datetime(2027, 1, day, hour, tzinfo=UTC)
>>> outcomes = [
...     Outcome("s1", "pump", due_at=t(2), done_at=t(1, 15)),   # on time
...     Outcome("s1", "pump", due_at=t(3), done_at=t(4)),       # late
...     Outcome("s1", "access", due_at=t(3), done_at=None),     # not done
...     Outcome("s2", "pump", due_at=t(9), done_at=t(8)),       # after the period
... ]
>>> [(r.group, r.due, r.on_time, r.rate) for r in execution_rate(outcomes, t(1), t(8), "site")]
[({'site': 's1'}, 3, 1, 0.3333333333333333)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.maintenance.models import MaintenanceWorkOrder
from quality.tickets.models import Ticket

GroupBy = Literal["site", "kind", "site_kind", "all"]
GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "site": ("site",),
    "kind": ("kind",),
    "site_kind": ("site", "kind"),
    "all": (),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    site: str
    kind: str
    due_at: datetime
    done_at: datetime | None  # when its ticket was verified; None if it was not


@dataclass(frozen=True, slots=True)
class ExecutionRate:
    group: dict[str, str]
    due: int
    on_time: int

    @property
    def rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


def execution_rate(
    outcomes: Iterable[Outcome],
    start: datetime,
    end: datetime,
    by: GroupBy = "site",
    as_of: datetime | None = None,
) -> list[ExecutionRate]:
    """The rate per group, groups in sorted order; a group with nothing due is absent."""
    keys = GROUP_KEYS[by]
    limit = min(end, as_of) if as_of is not None else end
    counts: dict[tuple[str, ...], list[int]] = {}
    for outcome in outcomes:
        if not (start <= outcome.due_at < end and outcome.due_at <= limit):
            continue
        group = tuple(getattr(outcome, key) for key in keys)
        tally = counts.setdefault(group, [0, 0])
        tally[0] += 1
        if outcome.done_at is not None and outcome.done_at <= outcome.due_at:
            tally[1] += 1
    return [
        ExecutionRate(dict(zip(keys, group, strict=True)), due, on_time)
        for group, (due, on_time) in sorted(counts.items())
    ]


def load_outcomes(engine: Engine, start: datetime, end: datetime) -> Sequence[Outcome]:
    """The work orders whose planned end falls in [start, end), with their verification."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                MaintenanceWorkOrder.site,
                MaintenanceWorkOrder.kind,
                MaintenanceWorkOrder.due_at,
                Ticket.verified_at,
            )
            .join(Ticket, Ticket.id == MaintenanceWorkOrder.ticket_id)
            .where(MaintenanceWorkOrder.due_at >= start, MaintenanceWorkOrder.due_at < end)
        ).all()
    result = []
    for site, kind, due_at, verified_at in rows:
        due = aware(due_at)
        assert due is not None
        result.append(Outcome(site, kind, due, aware(verified_at)))
    return result


def execution_rate_of(
    engine: Engine,
    start: datetime,
    end: datetime,
    by: GroupBy = "site",
    as_of: datetime | None = None,
) -> list[ExecutionRate]:
    """The execution rate from the database (what the KPI API calls)."""
    return execution_rate(load_outcomes(engine, start, end), start, end, by, as_of)
