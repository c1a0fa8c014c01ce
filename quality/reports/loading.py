"""Read what a report needs from the stores, once, over the span every section covers:
the previous period, the period, and each PDCA action's window before its start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.kpi.equipment import is_denominator
from quality.kpi.records import Period
from quality.kpi.report import load_inputs
from quality.kpi.silence import SilenceSource
from quality.kpi.sources import LivenessSource
from quality.maintenance.execution import load_outcomes
from quality.reports.assembly import ReportInputs
from quality.reports.config import ReportSettings
from quality.reports.data import PdcaRecord
from quality.reports.models import PdcaAction
from quality.reports.periods import ReportPeriod


def load_actions(engine: Engine, site: str | None = None) -> list[PdcaRecord]:
    """The PDCA actions of a site (None: every action), oldest start first."""
    query = select(PdcaAction).order_by(PdcaAction.started_at, PdcaAction.id)
    if site is not None:
        query = query.where(PdcaAction.site == site)
    with Session(engine) as session:
        rows = session.scalars(query).all()
    return [record_of(row) for row in rows]


def record_of(row: PdcaAction) -> PdcaRecord:
    started = aware(row.started_at)
    assert started is not None
    return PdcaRecord(
        row.id,
        row.title,
        row.site,
        row.target_kpi,
        row.plan,
        row.do,
        row.check,
        row.act,
        row.owner,
        started,
        aware(row.finished_at),
        row.status,
    )


def load_report_inputs(
    engine: Engine,
    liveness: LivenessSource,
    silence: SilenceSource | None,
    period: ReportPeriod,
    site: str | None,
    settings: ReportSettings,
    *,
    as_of: datetime,
    repeat_window: timedelta = timedelta(days=30),
) -> ReportInputs:
    """Everything `assemble` reads for `site`'s (None: the portfolio's) report."""
    actions = load_actions(engine, site)
    end = min(period.end, as_of)
    window = timedelta(days=settings.pdca_window_days)
    start = period.previous().start
    for action in actions:
        if action.started_at < end:
            start = min(start, action.started_at - window)
    span = Period(start.astimezone(UTC), max(end, start + timedelta(seconds=1)).astimezone(UTC))
    inputs = load_inputs(engine, liveness, silence, span, repeat_window=repeat_window)
    outcomes = load_outcomes(engine, span.start, span.end)
    if site is not None:
        outcomes = [o for o in outcomes if o.site == site]
    return ReportInputs(
        kpi=inputs.only(site=site) if site is not None else inputs,
        full_ledger=is_denominator(inputs.ledger),
        outcomes=outcomes,
        actions=actions,
        as_of=as_of,
        repeat_window=repeat_window,
    )
