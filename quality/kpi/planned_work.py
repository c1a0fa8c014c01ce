"""The two KPIs of planned work, as their own modules compute them, placed in the KPI groups.

- Maintenance-plan execution rate (保养计划执行率, `quality.maintenance.execution`): work
  orders done on time / due. Work orders record their site and kind, not their building:
  the rate exists for the `site` and `kind` scopes, not for `building` or `building_kind`.
- Inspection-round completion (巡检完成率, `quality.inspections.rounds`): stops done /
  stops planned of the rounds finished in the period. A round follows a route, which
  names a site but not a building or kind: the rate exists for the `site` scope only.

Both are kept as additive parts (`maintenance_due`, `maintenance_on_time`;
`inspection_stops`, `inspection_stops_done`) next to the percentage, as every KPI is.

>>> tally = PlannedWork(maintenance_due=4, maintenance_on_time=3)
>>> tally.maintenance_execution_pct, tally.inspection_completion_pct
(75.0, None)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Engine

from quality.inspections.rounds import RoundStore
from quality.kpi.compute import GroupKey
from quality.kpi.records import Period
from quality.maintenance.execution import execution_rate, load_outcomes
from quality.photos import PhotoStore
from quality.tickets import TicketStore

MAINTENANCE_SCOPES = frozenset({"site", "kind"})
INSPECTION_SCOPES = frozenset({"site"})


@dataclass(slots=True)
class PlannedWork:
    maintenance_due: int = 0
    maintenance_on_time: int = 0
    inspection_stops: int = 0
    inspection_stops_done: int = 0

    @property
    def maintenance_execution_pct(self) -> float | None:
        if not self.maintenance_due:
            return None
        return 100.0 * self.maintenance_on_time / self.maintenance_due

    @property
    def inspection_completion_pct(self) -> float | None:
        if not self.inspection_stops:
            return None
        return 100.0 * self.inspection_stops_done / self.inspection_stops

    def fields(self) -> dict[str, int | float]:
        """The `kpi` fields: parts and ratio, only where something was due or planned."""
        out: dict[str, int | float] = {}
        if self.maintenance_execution_pct is not None:
            out |= {
                "maintenance_due": self.maintenance_due,
                "maintenance_on_time": self.maintenance_on_time,
                "maintenance_execution_pct": self.maintenance_execution_pct,
            }
        if self.inspection_completion_pct is not None:
            out |= {
                "inspection_stops": self.inspection_stops,
                "inspection_stops_done": self.inspection_stops_done,
                "inspection_completion_pct": self.inspection_completion_pct,
            }
        return out


def _rounds(engine: Engine) -> RoundStore:
    # `RoundStore.completion` reads the rounds table alone; the photo store is never used.
    return RoundStore(engine, TicketStore(engine, sinks=()), cast(PhotoStore, None))


def planned_work(
    engine: Engine,
    period: Period,
    *,
    as_of: datetime | None = None,
    sites: Iterable[str] | None = None,
    site: str | None = None,
    building: str | None = None,
    kind: str | None = None,
) -> dict[GroupKey, PlannedWork]:
    """Both rates' parts per group over the period, narrowed like the other KPIs.

    A `building` filter leaves nothing: neither work orders nor rounds record one. A
    `kind` filter leaves the maintenance rate only. Inspection completion is read for
    `site`, or else for each of `sites` (the sites the other KPIs found).
    """
    found: dict[GroupKey, PlannedWork] = {}
    if building is not None:
        return found
    for rate in execution_rate(
        load_outcomes(engine, period.start, period.end),
        period.start,
        period.end,
        "site_kind",
        as_of,
    ):
        group_site, group_kind = rate.group["site"], rate.group["kind"]
        if (site is not None and group_site != site) or (kind is not None and group_kind != kind):
            continue
        for key in (GroupKey("site", group_site), GroupKey("kind", group_site, kind=group_kind)):
            tally = found.setdefault(key, PlannedWork())
            tally.maintenance_due += rate.due
            tally.maintenance_on_time += rate.on_time
    if kind is not None:
        return found
    rounds = _rounds(engine)
    for name in sorted({site} if site is not None else set(sites or ())):
        _, _, planned, done = rounds.completion(period.start, period.end, name)
        if planned:
            tally = found.setdefault(GroupKey("site", name), PlannedWork())
            tally.inspection_stops, tally.inspection_stops_done = planned, done
    return found
