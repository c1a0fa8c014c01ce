"""PDCA actions (计划-执行-检查-处理): the quality team's improvement cycles, each aimed at
one KPI; the reports show the KPI before the action and after it.

- `POST /api/pdca` creates one (quality role), `GET /api/pdca?site=` lists them (viewer),
  `GET /api/pdca/{id}` reads one, `PATCH /api/pdca/{id}` changes the fields it names.

A refused field answers 422 with `field` and the fix in `en` and `zh`; nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from api.deps import MAX_ID, QualityDep, StoresDep, ViewerDep
from api.routes.reports import ReportRefusal, refusal
from api.routing import AuthenticatedRoute
from quality.i18n import texts
from quality.reports.config import KPIS
from quality.reports.data import PdcaRecord
from quality.reports.pdca import STATUSES, PdcaChange, PdcaNotFound, PdcaRefused, PdcaStore

router = APIRouter(prefix="/api/pdca", tags=["reports"], route_class=AuthenticatedRoute)

ActionId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="PDCA action id")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ReportRefusal},
    422: {"model": ReportRefusal},
}


class PdcaCreate(BaseModel):
    title: str = Field(description="what the action is, 1 to 200 characters")
    site: str | None = Field(None, max_length=64, description="its site; absent: every site")
    target_kpi: str = Field(description=f"the KPI it aims at: one of {', '.join(KPIS)}")
    plan: str = ""
    do: str = ""
    check: str = ""
    act: str = ""
    owner: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str | None = Field(None, description=f"one of {', '.join(STATUSES)}")


class PdcaUpdate(BaseModel):
    title: str | None = None
    site: str | None = Field(None, max_length=64)
    target_kpi: str | None = None
    plan: str | None = None
    do: str | None = None
    check: str | None = None
    act: str | None = None
    owner: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str | None = None


class PdcaPublic(BaseModel):
    id: int
    title: str
    site: str | None
    target_kpi: str
    plan: str
    do: str
    check: str
    act: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    status: str


def _public(record: PdcaRecord) -> PdcaPublic:
    return PdcaPublic(
        id=record.id,
        title=record.title,
        site=record.site,
        target_kpi=record.target_kpi,
        plan=record.plan,
        do=record.do,
        check=record.check,
        act=record.act,
        owner=record.owner,
        started_at=record.started_at,
        finished_at=record.finished_at,
        status=record.status,
    )


def _not_found(action_id: int) -> Response:
    return refusal(404, "id", texts("reports.pdca.error.not_found", id=action_id))


@router.post("", status_code=201, response_model=PdcaPublic, responses=ERRORS)
def create_action(body: PdcaCreate, stores: StoresDep, who: QualityDep) -> PdcaPublic | Response:
    try:
        record = PdcaStore(stores.engine, stores.tickets.clock).create(
            PdcaChange(**body.model_dump()), who.name
        )
    except PdcaRefused as refused:
        return refusal(422, refused.field, refused.messages)
    return _public(record)


@router.get("", response_model=list[PdcaPublic])
def list_actions(
    stores: StoresDep,
    _who: ViewerDep,
    site: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[PdcaPublic]:
    """Every action (of `site`), oldest start first."""
    return [_public(r) for r in PdcaStore(stores.engine).list(site)]


@router.get("/{action_id}", response_model=PdcaPublic, responses=ERRORS)
def get_action(action_id: ActionId, stores: StoresDep, _who: ViewerDep) -> PdcaPublic | Response:
    try:
        return _public(PdcaStore(stores.engine).get(action_id))
    except PdcaNotFound:
        return _not_found(action_id)


@router.patch("/{action_id}", response_model=PdcaPublic, responses=ERRORS)
def update_action(
    action_id: ActionId, body: PdcaUpdate, stores: StoresDep, _who: QualityDep
) -> PdcaPublic | Response:
    """Change the fields sent; `finished_at: null` sent explicitly clears the finish."""
    sent = body.model_dump(exclude_unset=True)
    change = PdcaChange(**{k: v for k, v in sent.items() if v is not None})
    change.clear_finished = "finished_at" in sent and sent["finished_at"] is None
    try:
        record = PdcaStore(stores.engine, stores.tickets.clock).update(action_id, change)
    except PdcaNotFound:
        return _not_found(action_id)
    except PdcaRefused as refused:
        return refusal(422, refused.field, refused.messages)
    return _public(record)
