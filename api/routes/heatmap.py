"""The heat map of problem spots (热力分析图) and the integrity targets, beside the KPIs:
`GET /api/kpis/heatmap` counts the tickets opened in a period per building × floor × kind
(`quality.kpi.heatmap`), with the KPI API's parameters and 422 answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import StoresDep, ViewerDep, scoped_contractor
from api.routes.kpis import BadParameter, PeriodEnd, PeriodStart, Site, _parse
from api.routing import AuthenticatedRoute
from api.schemas import ListingProblem, UtcDatetime
from quality.kpi.heatmap import heat_map, totals
from quality.kpi.targets import INTEGRITY_TARGET_PCT, KIND_INTEGRITY_TARGETS_PCT
from quality.ledger.models import KINDS

router = APIRouter(prefix="/api/kpis", tags=["kpis"], route_class=AuthenticatedRoute)


class HeatCellPublic(BaseModel):
    site: str
    building: str
    floor: str | None = Field(description="the ledger's floor; null: the ledger has none")
    kind: str = Field(description="a device kind, or `place` for a place an inspector reported")
    tickets: int = Field(description="tickets opened in the period (false alarms left out)")
    active: int = Field(description="of those, still open, dispatched or acknowledged")
    critical: int
    repeats: int = Field(description="of those, repeats of a fault closed before")


class HeatMapPublic(BaseModel):
    """GET /api/kpis/heatmap."""

    model_config = ConfigDict(populate_by_name=True)

    period_from: UtcDatetime = Field(alias="from")
    period_to: UtcDatetime = Field(alias="to")
    site: str | None
    cells: list[HeatCellPublic] = Field(description="by site, building, floor (lowest first), kind")
    tickets: int = Field(description="all the cells' tickets")


class TargetsPublic(BaseModel):
    integrity_pct: float = Field(description="设备完好率 target, %")
    integrity_pct_by_kind: dict[str, float] = Field(description="kinds with a target of their own")


@router.get(
    "/heatmap",
    response_model=HeatMapPublic,
    responses={422: {"model": ListingProblem, "description": "a parameter is not valid"}},
)
def heatmap(
    stores: StoresDep,
    who: ViewerDep,
    site: Site = None,
    building: Annotated[str | None, Query(description="building, exactly")] = None,
    kind: Annotated[str | None, Query(description=f"one of {', '.join(KINDS)}")] = None,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> HeatMapPublic | Response:
    """Tickets opened in [from, to) per building × floor × kind. A contractor's token
    counts its own tickets only."""
    try:
        query = _parse(site, building, kind, start, end, datetime.now(UTC))
    except BadParameter as error:
        return error.response()
    cells = heat_map(
        stores.engine,
        query.period,
        site=query.site,
        building=query.building,
        kind=query.kind,
        contractor=scoped_contractor(who, None),
    )
    return HeatMapPublic.model_validate(
        {
            "from": query.period.start,
            "to": query.period.end,
            "site": query.site,
            "cells": [HeatCellPublic.model_validate(c, from_attributes=True) for c in cells],
            "tickets": totals(cells).tickets,
        }
    )


@router.get("/targets", response_model=TargetsPublic)
def targets(_who: ViewerDep) -> TargetsPublic:
    """The integrity rate's targets: 98 %, elevators 100 %."""
    return TargetsPublic(
        integrity_pct=INTEGRITY_TARGET_PCT, integrity_pct_by_kind=dict(KIND_INTEGRITY_TARGETS_PCT)
    )
