"""Inspection routes and rounds (巡检路线, 巡检).

- `/api/inspections/routes`: the quality role creates, replaces and deletes routes (a route
  with rounds is kept); everyone reads them.
- `/api/inspections/rounds`: an inspector (巡检员) and above starts a round on a route,
  answers items (`…/answers`, a multipart form with the item's time and optional photos)
  and finishes it (`…/finish`); a failed item opens a ticket with the answer and photos as
  evidence. A stop with no answer at the finish is skipped.
- `/api/inspections/completion`: inspection-round completion (巡检完成率), stops done /
  stops planned, of the rounds finished in a period.
- `/api/inspections/categories`: what a finding may be filed as, in both languages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.deps import MAX_ID, QualityDep, StoresDep, ViewerDep
from api.routes.manual_tickets import UPLOAD_ERRORS, InspectorDep, device_lookup, in_utc
from api.routes.photos import (
    Refusal,
    RefusedInput,
    photo_limits,
    photo_refusal,
    photo_store,
    read_photos,
    refusal,
)
from api.routing import AuthenticatedRoute
from api.stores import Stores
from quality.inspections.categories import CATEGORIES
from quality.inspections.checklists import RouteCreate, Stop
from quality.inspections.errors import InspectionError
from quality.inspections.rounds import Answer, RoundStore
from quality.inspections.routes_store import RouteStore
from quality.photos import PhotoRefused

router = APIRouter(prefix="/api/inspections", tags=["inspections"], route_class=AuthenticatedRoute)

EARLIEST = datetime.min.replace(tzinfo=UTC)
RouteId = Annotated[int, Path(ge=1, le=MAX_ID, description="route id")]
RoundId = Annotated[int, Path(ge=1, le=MAX_ID, description="round id")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Refusal, "description": "no such route or round"},
    409: {"model": Refusal, "description": "the round is finished, or the item answered"},
    422: {"model": RefusedInput, "description": "a field is wrong; it is named"},
}


class RoutePublic(BaseModel):
    id: int
    name: str
    site: str
    stops: list[Stop]
    created_by: str
    created_at: datetime
    updated_at: datetime


class AnswerPublic(BaseModel):
    id: int
    stop: int
    item: int
    value: str
    passed: bool
    note: str | None
    answered_at: datetime
    recorded_at: datetime
    answered_by: str
    photos: list[str]
    ticket_id: int | None = Field(description="the ticket a failed item opened or joined")


class RoundPublic(BaseModel):
    id: int
    route_id: int
    route_name: str
    site: str
    inspector: str
    started_at: datetime
    finished_at: datetime | None
    stops: list[Stop]
    stops_total: int
    stops_answered: int
    stops_skipped: list[int] | None = Field(description="stops with no answer, once finished")
    completion: float = Field(description="stops answered / stops (巡检完成率)")
    answers: list[AnswerPublic]


class RoundStart(BaseModel):
    route_id: int = Field(ge=1, le=MAX_ID)


class Completion(BaseModel):
    completion: float | None = Field(description="stops done / stops planned; null: none planned")
    rounds: int
    stops_planned: int
    stops_done: int
    since: datetime
    until: datetime
    label: dict[str, str] = {"zh-CN": "巡检完成率", "en": "inspection-round completion"}


def _failed(error: InspectionError) -> Response:
    return refusal(error.status, error.message, error.field)


def _routes(stores: Stores) -> RouteStore:
    return RouteStore(stores.engine, device_lookup(stores), stores.tickets.clock)


def _rounds(request: Request, stores: Stores) -> RoundStore:
    return RoundStore(stores.engine, stores.tickets, photo_store(request, stores))


@router.get("/categories")
def categories(_who: ViewerDep) -> dict[str, dict[str, str]]:
    """Fault types a finding may be filed as (those the detectors name, and `other`)."""
    return CATEGORIES


@router.get("/routes", response_model=list[RoutePublic])
def list_routes(
    stores: StoresDep,
    _who: ViewerDep,
    site: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    return _routes(stores).find(site)


@router.post("/routes", status_code=201, response_model=RoutePublic, responses=ERRORS)
def create_route(body: RouteCreate, stores: StoresDep, who: QualityDep) -> Any:
    try:
        return _routes(stores).create(body, who.name)
    except InspectionError as error:
        return _failed(error)


@router.get("/routes/{route_id}", response_model=RoutePublic, responses=ERRORS)
def get_route(route_id: RouteId, stores: StoresDep, _who: ViewerDep) -> Any:
    try:
        return _routes(stores).get(route_id)
    except InspectionError as error:
        return _failed(error)


@router.put("/routes/{route_id}", response_model=RoutePublic, responses=ERRORS)
def replace_route(route_id: RouteId, body: RouteCreate, stores: StoresDep, _who: QualityDep) -> Any:
    try:
        return _routes(stores).replace(route_id, body)
    except InspectionError as error:
        return _failed(error)


@router.delete("/routes/{route_id}", status_code=204, response_class=Response, responses=ERRORS)
def delete_route(route_id: RouteId, stores: StoresDep, _who: QualityDep) -> Response:
    try:
        _routes(stores).delete(route_id)
    except InspectionError as error:
        return _failed(error)
    return Response(status_code=204)


@router.post("/rounds", status_code=201, response_model=RoundPublic, responses=ERRORS)
def start_round(body: RoundStart, request: Request, stores: StoresDep, who: InspectorDep) -> Any:
    try:
        return _rounds(request, stores).start(body.route_id, who.name)
    except InspectionError as error:
        return _failed(error)


@router.get("/rounds", response_model=list[RoundPublic])
def list_rounds(
    request: Request,
    stores: StoresDep,
    _who: ViewerDep,
    site: Annotated[str | None, Query(max_length=64)] = None,
    route_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    return _rounds(request, stores).find(site, route_id, limit)


@router.get("/rounds/{round_id}", response_model=RoundPublic, responses=ERRORS)
def get_round(round_id: RoundId, request: Request, stores: StoresDep, _who: ViewerDep) -> Any:
    try:
        return _rounds(request, stores).get(round_id)
    except InspectionError as error:
        return _failed(error)


@router.post(
    "/rounds/{round_id}/answers",
    status_code=201,
    response_model=AnswerPublic,
    responses={**ERRORS, **UPLOAD_ERRORS},
)
def answer_item(
    round_id: RoundId,
    request: Request,
    stores: StoresDep,
    who: InspectorDep,
    stop: Annotated[int, Form(ge=0, le=10_000, description="the stop's index in the round")],
    item: Annotated[int, Form(ge=0, le=10_000, description="the item's index in the stop")],
    value: Annotated[
        str, Form(min_length=1, max_length=2000, description="pass, fail, a number or text")
    ],
    answered_at: Annotated[
        datetime | None, Form(description="when the item was checked (default: now)")
    ] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
    photos: Annotated[list[UploadFile] | None, File(description="JPEG, PNG or HEIC photos")] = None,
) -> Any:
    """Record one checklist answer; a failed item opens (or adds to) a ticket."""
    try:
        prepared = read_photos(photos, "photos", photo_limits(stores))
    except PhotoRefused as error:
        return photo_refusal(error)
    when = in_utc(answered_at, "answered_at")
    if isinstance(when, Response):
        return when
    answer = Answer(stop, item, value, note, when, who.name)
    try:
        return _rounds(request, stores).answer(round_id, answer, prepared)
    except InspectionError as error:
        return _failed(error)


@router.post("/rounds/{round_id}/finish", response_model=RoundPublic, responses=ERRORS)
def finish_round(round_id: RoundId, request: Request, stores: StoresDep, who: InspectorDep) -> Any:
    try:
        return _rounds(request, stores).finish(round_id, who.name)
    except InspectionError as error:
        return _failed(error)


@router.get("/completion", response_model=Completion, responses={422: ERRORS[422]})
def completion(
    request: Request,
    stores: StoresDep,
    _who: ViewerDep,
    since: datetime | None = None,
    until: datetime | None = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
) -> Completion | Response:
    """巡检完成率 of the rounds finished in [since, until) (default: the last 30 days)."""
    end = in_utc(until, "until")
    start = in_utc(since, "since")
    if isinstance(end, Response):
        return end
    if isinstance(start, Response):
        return start
    end = end or stores.tickets.clock.now()
    if start is None:
        start = end - timedelta(days=30) if end > EARLIEST + timedelta(days=30) else EARLIEST
    rate, rounds, planned, done = _rounds(request, stores).completion(start, end, site)
    return Completion(
        completion=rate,
        rounds=rounds,
        stops_planned=planned,
        stops_done=done,
        since=start,
        until=end,
    )
