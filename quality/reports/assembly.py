"""A quality report's figures from the stores' records: pure functions, no I/O.

Every KPI comes from the KPI code (`quality.kpi`), over the same inputs, so a report's
figures equal `GET /api/kpis` over the same period. The portfolio's figures add up the
sites' additive parts (device-seconds, counts), never average their ratios.

- KPIs: the period's against their targets (`ReportSettings`), with the previous period's.
- Integrity per kind, each against its own target (elevators 100 %).
- Trend: integrity and tickets opened per severity, per day (weekly) or week (monthly).
- Top problem equipment and fault types: tickets opened in the period, planned-maintenance
  work orders and false alarms left out.
- Repeat faults and cards: the period's tickets that repeat a fault, their yellow and red
  cards, and the chronic (red-carded) equipment of the repeat window.
- Contractor scorecards (`quality.kpi.scorecard`).
- Overdue tickets at the report's end: still waiting for dispatch past the dispatch
  deadline, or for rectification past the rectify deadline.
- Maintenance-plan execution (`quality.maintenance.execution`), in all and per kind.
- PDCA actions overlapping the period, each with its KPI over `pdca_window_days` before its
  start and after its finish (or, while it runs, from its start up to the report's end).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.clock import to_ms
from quality.kpi.compute import GroupKpis
from quality.kpi.records import IMPAIRING_SEVERITIES, Period, TicketRecord
from quality.kpi.report import Inputs, kpi_report
from quality.kpi.scorecard import scorecards
from quality.maintenance.execution import Outcome, execution_rate
from quality.maintenance.models import MAINTENANCE_FAULT
from quality.reports.config import DIRECTIONS, KPIS, ReportSettings, meets
from quality.reports.data import (
    EquipmentRow,
    FaultRow,
    KindRow,
    KpiRow,
    MaintenanceRow,
    OverdueRow,
    PdcaEffect,
    PdcaRecord,
    RepeatRow,
    ReportData,
    ScorecardRow,
    TrendPoint,
)
from quality.reports.periods import ReportPeriod

SEVERITIES = ("critical", "major", "minor")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What a report reads, already narrowed to its site (for a site's report)."""

    kpi: Inputs
    """Tickets, liveness, ledger, silences and maintenance windows over `window`."""
    full_ledger: bool
    """Whether the whole ledger (not only this site's) is the integrity denominator."""
    outcomes: Sequence[Outcome]
    actions: Sequence[PdcaRecord]
    as_of: datetime
    repeat_window: timedelta = timedelta(days=30)


def merged(groups: Iterable[GroupKpis], denominator: str) -> GroupKpis:
    """The sum of groups' additive parts: the KPIs of their union."""
    total = GroupKpis(denominator)
    for group in groups:
        for spec in dataclasses.fields(GroupKpis):
            value = getattr(group, spec.name)
            if isinstance(value, set):
                getattr(total, spec.name).update(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                setattr(total, spec.name, getattr(total, spec.name) + value)
    return total


def period_kpis(
    period: Period, inputs: ReportInputs, *, site: str | None = None, kind: str | None = None
) -> GroupKpis:
    """The KPIs of a site (or of every site), optionally of one kind, over `period`."""
    narrowed = inputs.kpi.only(site=site, kind=kind) if site or kind else inputs.kpi
    report = kpi_report(
        period,
        narrowed,
        full_ledger=inputs.full_ledger,
        repeat_window=inputs.repeat_window,
    )
    scope = "kind" if kind else "site"
    return merged((k for key, k in report.groups if key.scope == scope), report.denominator)


def execution(
    outcomes: Iterable[Outcome], period: Period, as_of: datetime
) -> dict[str, tuple[int, int]]:
    """(due, on time) of maintenance work orders per kind, "" for all of them."""
    found: dict[str, tuple[int, int]] = {}
    for rate in execution_rate(outcomes, period.start, period.end, "kind", as_of):
        found[rate.group["kind"]] = (rate.due, rate.on_time)
    due = sum(d for d, _ in found.values())
    found[""] = (due, sum(o for _, o in found.values()))
    return found


def kpi_value(
    code: str,
    period: Period,
    inputs: ReportInputs,
    *,
    site: str | None = None,
    kpis: GroupKpis | None = None,
) -> float | None:
    """One KPI's value over a period (a site's, or every site's)."""
    if code == "maintenance_execution_pct":
        outcomes = [o for o in inputs.outcomes if site is None or o.site == site]
        due, on_time = execution(outcomes, period, inputs.as_of)[""]
        return 100.0 * on_time / due if due else None
    figures = kpis if kpis is not None else period_kpis(period, inputs, site=site)
    value: float | None = getattr(figures, code)
    return value


def _counted(ticket: TicketRecord, period: Period) -> bool:
    """A problem opened in the period: not planned maintenance, not a false alarm."""
    opened = to_ms(ticket.opened_at)
    return (
        period.start_ms <= opened < period.end_ms
        and ticket.fault_type != MAINTENANCE_FAULT
        and not ticket.false_alarm
    )


def top_equipment(tickets: Iterable[TicketRecord], period: Period, top: int) -> list[EquipmentRow]:
    """The equipment with the most problems opened in the period, most first."""
    found: dict[tuple[str, str], list[TicketRecord]] = {}
    for ticket in tickets:
        if _counted(ticket, period):
            found.setdefault((ticket.site, ticket.device_id), []).append(ticket)
    rows = [
        EquipmentRow(
            site,
            device_id,
            opened[-1].building,
            opened[-1].kind,
            len(opened),
            sum(t.severity in IMPAIRING_SEVERITIES for t in opened),
            tuple(sorted({t.fault_type for t in opened})),
        )
        for (site, device_id), opened in found.items()
    ]
    rows.sort(key=lambda r: (-r.tickets, -r.impairing, r.site, r.device_id))
    return rows[:top]


def top_faults(tickets: Iterable[TicketRecord], period: Period, top: int) -> list[FaultRow]:
    """The fault types opened most often in the period, with how many devices had them."""
    counts: Counter[str] = Counter()
    devices: dict[str, set[tuple[str, str]]] = {}
    for ticket in tickets:
        if _counted(ticket, period):
            counts[ticket.fault_type] += 1
            devices.setdefault(ticket.fault_type, set()).add((ticket.site, ticket.device_id))
    rows = [FaultRow(name, n, len(devices[name])) for name, n in counts.items()]
    rows.sort(key=lambda r: (-r.tickets, -r.devices, r.fault_type))
    return rows[:top]


def repeats(tickets: Iterable[TicketRecord], period: Period) -> list[RepeatRow]:
    """The period's tickets that repeat a fault (黄牌 on the second, 红牌 from the third)."""
    rows = [
        RepeatRow(
            t.id,
            t.site,
            t.device_id,
            t.fault_type,
            t.repeat_count,
            t.card,
            t.opened_at,
            t.summary_labels,
        )
        for t in tickets
        if _counted(t, period) and t.repeat_count > 1
    ]
    rows.sort(key=lambda r: (-r.repeat_count, r.opened_at, r.ticket_id))
    return rows


def overdue(tickets: Iterable[TicketRecord], moment: datetime) -> list[OverdueRow]:
    """Tickets late at `moment`: not dispatched past the dispatch deadline, or not rectified
    past the rectify deadline (the earlier missed deadline is named)."""
    at = to_ms(moment)
    rows = []
    for ticket in tickets:
        if to_ms(ticket.opened_at) >= at:
            continue
        state = None
        for when, to_state in ticket.moves():
            if when < at:
                state = to_state
        stage: str | None = None
        due = ticket.rectify_due_at
        if state in ("open", "reopened") and to_ms(ticket.dispatch_due_at) < at:
            stage, due = "dispatch", ticket.dispatch_due_at
        elif state in ("open", "reopened", "dispatched", "acknowledged") and to_ms(due) < at:
            stage = "rectify"
        if stage is not None:
            rows.append(
                OverdueRow(
                    ticket.id,
                    ticket.site,
                    ticket.device_id,
                    ticket.fault_type,
                    ticket.severity,
                    stage,
                    due,
                    (at - to_ms(due)) / 1000,
                    ticket.contractor,
                    ticket.summary_labels,
                )
            )
    rows.sort(key=lambda r: (_SEVERITY_RANK.get(r.severity, 9), -r.overdue_s, r.ticket_id))
    return rows


def pdca_effect(action: PdcaRecord, inputs: ReportInputs, window: timedelta) -> PdcaEffect:
    """The action's KPI over `window` before its start, and after its finish (or, while it
    runs, from its start up to now), clipped to what has happened by `as_of`."""
    before = Period(action.started_at - window, action.started_at)
    after_from = action.finished_at or action.started_at
    after_to = min(after_from + window, inputs.as_of)
    after = Period(after_from, after_to) if after_from < after_to else None
    code = action.target_kpi
    return PdcaEffect(
        action,
        before.start,
        before.end,
        after.start if after else None,
        after.end if after else None,
        kpi_value(code, before, inputs, site=action.site),
        kpi_value(code, after, inputs, site=action.site) if after else None,
        DIRECTIONS.get(code, "min"),
    )


def assemble(
    period: ReportPeriod,
    site: str | None,
    inputs: ReportInputs,
    settings: ReportSettings,
) -> ReportData:
    """Every section of the report of `site` (None: the portfolio) over `period`.

    A running period is counted up to `inputs.as_of`; the previous period in full.
    """
    end = min(period.end, inputs.as_of)
    if end <= period.start:
        raise ValueError(f"the period {period.label} has not begun")
    current = Period(period.start, end)
    before = period.previous()
    previous = Period(before.start, min(before.end, inputs.as_of))
    now_kpis = period_kpis(current, inputs)
    then_kpis = period_kpis(previous, inputs)
    tickets = inputs.kpi.tickets

    rows = []
    for code in KPIS:
        value = kpi_value(code, current, inputs, kpis=now_kpis)
        target = settings.target(code)
        rows.append(
            KpiRow(
                code,
                value,
                kpi_value(code, previous, inputs, kpis=then_kpis),
                target,
                meets(code, value, target),
                DIRECTIONS[code],
            )
        )

    kinds = sorted(
        {d.kind for d in inputs.kpi.ledger} | {t.kind for t in tickets if _counted(t, current)}
    )
    kind_rows = []
    for kind in kinds:
        figures = period_kpis(current, inputs, kind=kind)
        if figures.devices == 0 and figures.opened == 0:
            continue  # only pending or decommissioned equipment of this kind
        target = settings.target("integrity_pct", kind)
        kind_rows.append(
            KindRow(
                kind,
                figures.devices,
                figures.integrity_pct,
                period_kpis(previous, inputs, kind=kind).integrity_pct,
                target,
                meets("integrity_pct", figures.integrity_pct, target),
            )
        )

    trend = []
    for bucket in period.buckets():
        opened = Counter(
            t.severity for t in tickets if _counted(t, Period(bucket.start, bucket.end))
        )
        integrity = None
        if bucket.start < end:
            span = Period(bucket.start, min(bucket.end, end))
            integrity = period_kpis(span, inputs).integrity_pct
        trend.append(
            TrendPoint(
                bucket.label, bucket.start, integrity, {s: opened.get(s, 0) for s in SEVERITIES}
            )
        )

    found_repeats = repeats(tickets, current)
    cards = scorecards(current, tickets, as_of=end)
    scorecard_rows = [
        ScorecardRow(
            name,
            card.tickets,
            card.response_time_s,
            card.on_time_rectification_pct,
            card.first_time_fix_pct,
            card.repeats,
            card.yellow_cards,
            card.red_cards,
        )
        for name, card in sorted(cards.items())
    ]
    maintenance = [
        MaintenanceRow(kind, due, on_time)
        for kind, (due, on_time) in sorted(execution(inputs.outcomes, current, end).items())
        if due
    ]
    window = timedelta(days=settings.pdca_window_days)
    actions = [
        a
        for a in inputs.actions
        if (site is None or a.site == site)
        and a.started_at < end
        and (a.finished_at is None or a.finished_at >= period.start)
    ]
    return ReportData(
        kind=period.kind,
        period=period.label,
        previous_period=before.label,
        site=site,
        time_zone=str(period.zone),
        start=period.start,
        end=period.end,
        as_of=end,
        denominator=now_kpis.denominator,
        devices=now_kpis.devices,
        reporting_devices=now_kpis.devices - now_kpis.never_reported,
        kpis=rows,
        kinds=kind_rows,
        trend=trend,
        top_equipment=top_equipment(tickets, current, settings.top),
        top_faults=top_faults(tickets, current, settings.top),
        repeats=found_repeats,
        yellow_cards=sum(r.card == "yellow" for r in found_repeats),
        red_cards=sum(r.card == "red" for r in found_repeats),
        chronic=sorted(now_kpis.chronic),
        scorecards=scorecard_rows,
        overdue=overdue(tickets, end),
        maintenance=maintenance,
        pdca=[pdca_effect(a, inputs, window) for a in sorted(actions, key=lambda a: a.started_at)],
        tickets_opened=sum(_counted(t, current) for t in tickets),
    )
