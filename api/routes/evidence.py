"""A ticket's evidence as a person reads it: the telemetry around the onset, read from the
time-series store, with what to draw on it (threshold and baseline lines, the onset, the
verification window, a predictive finding's projected crossing and its band) and the
evidence fields typed for labelled display (`quality.evidence`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import StoresDep, TicketId, ViewerDep, contractor_scope
from api.routing import AuthenticatedRoute
from contract.clock import to_ms
from contract.topics import TELEMETRY_SCHEMAS, Kind
from quality.evidence import EvidenceField, describe, plan_chart
from quality.evidence.chart import MAX_HALF_SPAN_MS
from quality.evidence.telemetry import read_series
from quality.tickets.models import aware
from storage.timeseries import StoreUnavailable

router = APIRouter(
    prefix="/api/tickets",
    tags=["tickets"],
    route_class=AuthenticatedRoute,
    dependencies=[Depends(contractor_scope)],  # a contractor's token: its own tickets only
)

MAX_SIDE_S: Final = MAX_HALF_SPAN_MS / 1000


class FieldPublic(BaseModel):
    key: str
    kind: str = Field(description="how to show the value: time_ms, duration_s, measured ...")
    value: Any = None
    unit: str | None = Field(None, description="a unit code; its label is evidence.unit.<code>")
    children: list[FieldPublic] = []


class SeriesPublic(BaseModel):
    metric: str
    unit: str = Field(description="the contract's unit: s, mm, A, bool (0/1) ...")
    points: list[tuple[int, float]] = Field(description="[epoch ms, value], oldest first")
    averaged_ms: int | None = Field(None, description="bucket width when averaged")


class LinePublic(BaseModel):
    role: Literal["threshold", "baseline"]
    metric: str
    value: float


class SpanPublic(BaseModel):
    start_ms: int
    end_ms: int
    status: Literal["passed", "waiting"] = Field(
        description="passed: verified by telemetry; waiting: rectified, telemetry awaited"
    )


class ProjectionPublic(BaseModel):
    metric: str
    from_ms: int
    from_value: float
    threshold: float
    crossing_ms: int
    earliest_ms: int
    latest_ms: int | None = Field(description="null: the slope's lower bound does not rise")


class EvidencePublic(BaseModel):
    """GET /api/tickets/{id}/evidence."""

    ticket_id: int
    site: str
    building: str
    device_id: str
    kind: str
    fault_type: str
    detector: str
    state: str
    onset_ms: int
    from_ms: int = Field(description="the span read from the store starts here")
    to_ms: int = Field(description="and ends here (never later than now)")
    now_ms: int
    series: list[SeriesPublic]
    telemetry_unavailable: bool = Field(
        False, description="the time-series store did not answer: fields only"
    )
    stored_window: list[tuple[int, float]] = Field(
        description="the detector's own [time, value] window (bucket medians), if stored"
    )
    lines: list[LinePublic]
    verification: SpanPublic | None
    projection: ProjectionPublic | None
    rectified_ms: int | None
    fields: list[FieldPublic]
    verification_fields: list[FieldPublic]


def _public(field: EvidenceField) -> FieldPublic:
    return FieldPublic(
        key=field.key,
        kind=field.kind,
        value=field.value,
        unit=field.unit,
        children=[_public(child) for child in field.children],
    )


def _units(kind: str) -> dict[str, str]:
    try:
        return {name: spec.unit for name, spec in TELEMETRY_SCHEMAS[Kind(kind)].items()}
    except ValueError:
        return {}


Side = Annotated[
    float | None,
    Query(ge=1, le=MAX_SIDE_S, description="seconds to chart on this side of the onset"),
]


@router.get("/{ticket_id}/evidence", response_model=EvidencePublic)
def ticket_evidence(
    ticket_id: TicketId,
    stores: StoresDep,
    _who: ViewerDep,
    before_s: Side = None,
    after_s: Side = None,
) -> EvidencePublic:
    """The telemetry from onset − span to onset + span (or now), in the metrics the
    evidence names, with the chart's marks and the evidence fields typed for display."""
    found = stores.tickets.get(ticket_id)
    if found is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    ticket = found[0]
    now_ms = to_ms(datetime.now(UTC))
    rectified = aware(ticket.rectified_at)
    evidence: dict[str, Any] = dict(ticket.evidence or {})
    plan = plan_chart(
        kind=ticket.kind,
        detector=ticket.detector,
        fault_type=ticket.fault_type,
        evidence=evidence,
        onset_ms=ticket.onset_ms,
        now_ms=now_ms,
        state=ticket.state,
        rectified_ms=to_ms(rectified) if rectified else None,
        verification=ticket.verification,
        verification_window_ms=int(
            stores.tickets.policy.verification_window.total_seconds() * 1000
        ),
        before_ms=None if before_s is None else round(before_s * 1000),
        after_ms=None if after_s is None else round(after_s * 1000),
    )
    units = _units(ticket.kind)
    unavailable = False
    series: list[SeriesPublic] = []
    try:
        read = read_series(
            stores.series,
            kind=ticket.kind,
            site=ticket.site,
            device_id=ticket.device_id,
            metrics=plan.metrics,
            start_ms=plan.start_ms,
            end_ms=plan.end_ms,
        )
        series = [
            SeriesPublic(
                metric=s.metric,
                unit=units.get(s.metric, ""),
                points=s.points,
                averaged_ms=s.averaged_ms,
            )
            for s in read
        ]
    except StoreUnavailable:
        unavailable = True
    metric = evidence.get("metric")
    metric_unit = units.get(metric) if isinstance(metric, str) else None
    return EvidencePublic(
        ticket_id=ticket.id,
        site=ticket.site,
        building=ticket.building,
        device_id=ticket.device_id,
        kind=ticket.kind,
        fault_type=ticket.fault_type,
        detector=ticket.detector,
        state=ticket.state,
        onset_ms=ticket.onset_ms,
        from_ms=plan.start_ms,
        to_ms=plan.end_ms,
        now_ms=now_ms,
        series=series,
        telemetry_unavailable=unavailable,
        stored_window=plan.stored_window,
        lines=[LinePublic(role=x.role, metric=x.metric, value=x.value) for x in plan.lines],
        verification=None
        if plan.verification is None
        else SpanPublic(
            start_ms=plan.verification.start_ms,
            end_ms=plan.verification.end_ms,
            status=plan.verification.status,
        ),
        projection=None
        if plan.projection is None
        else ProjectionPublic.model_validate(plan.projection, from_attributes=True),
        rectified_ms=plan.rectified_ms,
        fields=[_public(f) for f in describe(evidence, ticket.detector, metric_unit)],
        verification_fields=[
            _public(f) for f in describe(ticket.verification or {}, ticket.detector, None)
        ],
    )
