"""Quality tickets: search, detail, transitions, assignment, severity, comments."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy import tuple_ as row
from sqlalchemy.orm import Session

from api.deps import (
    MAX_ID,
    EngineerDep,
    Offset,
    QualityDep,
    StoresDep,
    TicketId,
    ViewerDep,
    contractor_scope,
    scoped_contractor,
)
from api.routing import AuthenticatedRoute
from api.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    CommentPublic,
    CommentRequest,
    HistoryPublic,
    InvalidRequest,
    ListingProblem,
    OccurrencePublic,
    Problem,
    SeverityRequest,
    Text,
    TicketDetail,
    TicketPage,
    TicketPublic,
    TicketSeverity,
    TransitionConflict,
    TransitionRequest,
)
from api.stores import Stores
from ingest.device_registry import Device
from quality.i18n.summaries import summary_labels
from quality.ledger.models import Equipment
from quality.tickets.bulk import MAX_BULK, Dispatch, dispatch_many
from quality.tickets.labels import CARD_LABELS, STATE_LABELS
from quality.tickets.lifecycle import (
    IllegalTransition,
    NoteRequired,
    NotPermitted,
    State,
    allowed_next,
)
from quality.tickets.listing import (
    DEFAULT_LIMIT,
    KINDS,
    MAX_LIMIT,
    SORT_KEYS,
    STATES,
    ListingError,
    parse_query,
)
from quality.tickets.models import Ticket
from quality.tickets.policy import SEVERITIES
from quality.tickets.recheck import FaultStillPresent
from quality.tickets.store import TicketConflict, TicketFilter, TicketNotFound, TicketStore

router = APIRouter(
    prefix="/api/tickets",
    tags=["tickets"],
    route_class=AuthenticatedRoute,
    dependencies=[Depends(contractor_scope)],  # a contractor's token: its own tickets only
)

# What `_Errors` answers, declared so that clients (and the spec's checks) know the shapes.
LIFECYCLE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such ticket"},
    409: {
        "model": TransitionConflict,
        "description": "illegal transition, or the ticket changed meanwhile; "
        "`allowed` lists the legal next states",
    },
    422: {"model": InvalidRequest, "description": "the request is missing something it needs"},
}


def _public(ticket: Ticket) -> TicketPublic:
    public = TicketPublic.model_validate(ticket)
    public.allowed_next = allowed_next(ticket.state)
    public.state_label = STATE_LABELS.get(ticket.state, {})
    public.card_label = CARD_LABELS.get(ticket.card, {})
    public.summary_labels = summary_labels(
        ticket.summary_key, ticket.summary_params, ticket.summary
    )
    return public


def _online(stores: Stores, tickets: list[TicketPublic]) -> list[TicketPublic]:
    """Each ticket with its device's online status, as the device registry holds it (one
    query for the whole page)."""
    pairs = {(t.site, t.device_id) for t in tickets}
    if not pairs:
        return tickets
    with Session(stores.engine) as session:
        status = {
            (site, device_id): online
            for site, device_id, online in session.execute(
                select(Device.site, Device.device_id, Device.online).where(
                    row(Device.site, Device.device_id).in_(sorted(pairs))
                )
            )
        }
    for ticket in tickets:
        ticket.device_online = status.get((ticket.site, ticket.device_id))
    return tickets


def _detail(store: TicketStore, ticket_id: int, stores: Stores | None = None) -> TicketDetail:
    found = store.get(ticket_id)
    if found is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    ticket, occurrences = found
    public = _public(ticket)
    if stores is not None:
        _online(stores, [public])
    recheck = store.recheck(ticket_id)
    return TicketDetail(
        **public.model_dump(),
        recheck=recheck.public() if recheck is not None else None,
        evidence=ticket.evidence,
        verification=ticket.verification,
        occurrence_log=[OccurrencePublic.model_validate(o) for o in occurrences],
        history=[HistoryPublic.model_validate(h) for h in store.history(ticket_id)],
        comments=[CommentPublic.model_validate(c) for c in store.comments(ticket_id)],
    )


class _Errors:
    """Lifecycle errors as HTTP answers that say what to do."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type | None, error: BaseException | None, _tb: object
    ) -> Literal[False]:
        if isinstance(error, IllegalTransition):
            raise HTTPException(409, {"message": str(error), "allowed": error.allowed})
        if isinstance(error, TicketConflict):
            raise HTTPException(409, {"message": str(error), "allowed": error.allowed})
        if isinstance(error, NotPermitted):
            raise HTTPException(403, str(error))
        if isinstance(error, NoteRequired | ValueError):
            raise HTTPException(422, str(error))
        if isinstance(error, TicketNotFound):
            raise HTTPException(404, f"no ticket {error.args[0]}")
        if isinstance(error, FaultStillPresent):
            raise HTTPException(409, {**error.public(), "allowed": []})
        return False


@router.get("", response_model=list[TicketPublic])
def list_tickets(
    stores: StoresDep,
    _who: ViewerDep,
    response: Response,
    state: State | None = None,
    severity: TicketSeverity | None = None,
    site: Text | None = None,
    building: Text | None = None,
    kind: Text | None = None,
    device_id: Text | None = None,
    fault_type: Text | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[TicketPublic]:
    flt = TicketFilter(
        state,
        severity,
        site,
        building,
        kind,
        device_id,
        fault_type,
        overdue,
        contractor=scoped_contractor(_who, None),
    )
    tickets, total = stores.tickets.search(flt, limit, offset)
    response.headers["X-Total-Count"] = str(total)
    return _online(stores, [_public(t) for t in tickets])


_MULTI = "repeat the parameter or separate values with commas"


@router.get(
    "/page",
    response_model=TicketPage,
    responses={422: {"model": ListingProblem, "description": "a parameter is not valid"}},
)
def ticket_page(
    stores: StoresDep,
    _who: ViewerDep,
    site: Annotated[str | None, Query(description="site, exactly")] = None,
    building: Annotated[str | None, Query(description="building, exactly")] = None,
    floor: Annotated[
        str | None,
        Query(
            description="floor, exactly: devices the equipment ledger places there, and "
            "places reported there"
        ),
    ] = None,
    kind: Annotated[str | None, Query(description=f"one of {', '.join(KINDS)}")] = None,
    severity: Annotated[
        list[str] | None, Query(description=f"any of {', '.join(SEVERITIES)}; {_MULTI}")
    ] = None,
    state: Annotated[
        list[str] | None, Query(description=f"any of {', '.join(STATES)}; {_MULTI}")
    ] = None,
    assignee: Annotated[str | None, Query(description="assignee, exactly")] = None,
    contractor: Annotated[
        str | None, Query(description="maintenance contractor (维保单位), exactly")
    ] = None,
    fault_type: Annotated[str | None, Query(description="fault type, exactly")] = None,
    device_id: Annotated[str | None, Query(description="device id, exactly")] = None,
    overdue: Annotated[
        str | None, Query(description="true: an SLA deadline passed while its clock ran")
    ] = None,
    opened_from: Annotated[
        str | None, Query(description="opened at or after this RFC 3339 time")
    ] = None,
    opened_to: Annotated[str | None, Query(description="opened before this RFC 3339 time")] = None,
    q: Annotated[
        str | None,
        Query(description="text in the summary, device id, site, building or comments; any case"),
    ] = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORT_KEYS)}")] = None,
    order: Annotated[
        str | None,
        Query(description="asc or desc (default); severity desc is gravest first"),
    ] = None,
    limit: Annotated[
        str | None, Query(description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page, unchanged")
    ] = None,
) -> TicketPage | Response:
    """The ticket list at any scale: filters, free-text search, sorts, and keyset paging that
    reaches every ticket (`next_cursor`). Parameters are checked here, so that a bad one is a
    422 naming it and its allowed values in English and Chinese."""
    try:
        query = parse_query(
            site=site,
            building=building,
            floor=floor,
            kind=kind,
            severity=severity,
            state=state,
            assignee=assignee,
            contractor=scoped_contractor(_who, contractor),
            fault_type=fault_type,
            device_id=device_id,
            overdue=overdue,
            opened_from=opened_from,
            opened_to=opened_to,
            q=q,
            sort=sort,
            order=order,
            limit=limit,
            cursor=cursor,
        )
        page = stores.tickets.page(query)
    except ListingError as error:
        body = json.dumps({"detail": [error.public()]}, separators=(",", ":"))
        return Response(body.encode("ascii"), 422, media_type="application/json")
    return TicketPage(
        items=_online(stores, [_public(t) for t in page.items]),
        next_cursor=page.next_cursor,
        total=page.total,
        total_is_lower_bound=page.total_is_lower_bound,
    )


class TicketColumn(TicketPage):
    state: str


class TicketColumns(BaseModel):
    """The kanban's first page of each state, in one answer; each column's `next_cursor` goes
    to `GET /api/tickets/page` with the same filters and `state` set to the column's."""

    columns: list[TicketColumn]


_SINGLE = (
    "site",
    "building",
    "floor",
    "kind",
    "assignee",
    "contractor",
    "fault_type",
    "device_id",
    "overdue",
    "opened_from",
    "opened_to",
    "q",
    "sort",
    "order",
    "limit",
)


@router.get(
    "/columns",
    response_model=TicketColumns,
    responses={422: {"model": ListingProblem, "description": "a parameter is not valid"}},
)
def ticket_columns(
    request: Request,
    stores: StoresDep,
    _who: ViewerDep,
    state: Annotated[
        list[str] | None,
        Query(description=f"the columns, any of {', '.join(STATES)} (default all); {_MULTI}"),
    ] = None,
) -> TicketColumns | Response:
    """The board's kanban in one request: a page of each state under the filters that
    `GET /api/tickets/page` takes (site, building, floor, kind, severity, assignee,
    contractor, fault_type, device_id, overdue, opened_from, opened_to, q, sort, order,
    limit)."""
    params = request.query_params
    single = {name: params.get(name) for name in _SINGLE}
    try:
        states = parse_query(state=state).state or list(STATES)
        columns = []
        for column in states:
            query = parse_query(
                **{**single, "contractor": scoped_contractor(_who, single["contractor"])},
                severity=params.getlist("severity") or None,
                state=[column],
            )
            page = stores.tickets.page(query)
            columns.append(
                TicketColumn(
                    state=column,
                    items=[_public(t) for t in page.items],
                    next_cursor=page.next_cursor,
                    total=page.total,
                    total_is_lower_bound=page.total_is_lower_bound,
                )
            )
        _online(stores, [ticket for c in columns for ticket in c.items])  # one query for all
    except ListingError as error:
        body = json.dumps({"detail": [error.public()]}, separators=(",", ":"))
        return Response(body.encode("ascii"), 422, media_type="application/json")
    return TicketColumns(columns=columns)


class TicketFacets(BaseModel):
    """The values the board's filters offer, each list sorted."""

    sites: list[str]
    buildings: list[str]
    floors: list[str]
    kinds: list[str]
    fault_types: list[str]
    assignees: list[str]
    contractors: list[str]


@router.get("/facets", response_model=TicketFacets)
def ticket_facets(stores: StoresDep, who: ViewerDep) -> TicketFacets:
    """What the filters of the ticket list may take: the values the tickets (and, for
    floors, the equipment ledger) hold. A contractor's token sees its own tickets' values."""
    scope = scoped_contractor(who, None)

    def distinct(column: Any) -> list[str]:
        query = select(column).where(column.is_not(None)).distinct()
        if scope is not None:
            query = query.where(Ticket.contractor == scope)
        with Session(stores.engine) as session:
            return sorted(str(v) for v in session.scalars(query) if v)

    with Session(stores.engine) as session:
        floors = sorted(
            str(v)
            for v in session.scalars(
                select(Equipment.floor).where(Equipment.floor.is_not(None)).distinct()
            )
            if v
        )
    return TicketFacets(
        sites=distinct(Ticket.site),
        buildings=distinct(Ticket.building),
        floors=floors,
        kinds=distinct(Ticket.kind),
        fault_types=distinct(Ticket.fault_type),
        assignees=distinct(Ticket.assignee),
        contractors=distinct(Ticket.contractor),
    )


class BulkDispatchRequest(BaseModel):
    ticket_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_BULK, description=f"1 to {MAX_BULK} ticket ids"
    )
    assignee: Text = Field(min_length=1, max_length=128, description="team or person")
    note: Text | None = Field(None, max_length=4000)
    contractor: Text | None = Field(None, min_length=1, max_length=128)
    team: Text | None = Field(None, min_length=1, max_length=128)


class BulkOutcomePublic(BaseModel):
    ticket_id: int
    ok: bool
    state: str | None
    error: str | None = None


class BulkDispatchResult(BaseModel):
    dispatched: int = Field(description="tickets dispatched (or reassigned) by this request")
    failed: int
    results: list[BulkOutcomePublic]


@router.post("/dispatch", response_model=BulkDispatchResult)
def dispatch_tickets(
    body: BulkDispatchRequest, stores: StoresDep, who: EngineerDep
) -> BulkDispatchResult:
    """批量派单: dispatch (or reassign) several tickets to one party. Each ticket is
    dispatched in its own transaction, whole or not at all; `results` says, per ticket,
    whether it was and why not."""
    scope = who.contractor
    outcomes = dispatch_many(
        stores.tickets,
        body.ticket_ids,
        Dispatch(body.assignee, body.note, body.contractor, body.team),
        who.name,
        who.role,
        visible=lambda ticket: scope is None or ticket.contractor == scope,
    )
    done = sum(1 for o in outcomes if o.ok)
    return BulkDispatchResult(
        dispatched=done,
        failed=len(outcomes) - done,
        results=[BulkOutcomePublic(**o.public()) for o in outcomes],
    )


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: TicketId, stores: StoresDep, _who: ViewerDep) -> TicketDetail:
    return _detail(stores.tickets, ticket_id, stores)


@router.get("/{ticket_id}/comments", response_model=list[CommentPublic])
def ticket_comments(ticket_id: TicketId, stores: StoresDep, _who: ViewerDep) -> list[CommentPublic]:
    """The ticket's comments, oldest first."""
    if stores.tickets.get(ticket_id) is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return [CommentPublic.model_validate(c) for c in stores.tickets.comments(ticket_id)]


@router.get("/{ticket_id}/history", response_model=list[HistoryPublic])
def ticket_history(ticket_id: TicketId, stores: StoresDep, _who: ViewerDep) -> list[HistoryPublic]:
    if stores.tickets.get(ticket_id) is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return [HistoryPublic.model_validate(h) for h in stores.tickets.history(ticket_id)]


@router.post("/{ticket_id}/transitions", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def transition_ticket(
    ticket_id: TicketId, body: TransitionRequest, stores: StoresDep, who: EngineerDep
) -> TicketDetail:
    """Move the ticket. Verifying or closing while telemetry still shows the fault answers
    409 `fault_still_present` unless the request says `confirm_despite_fault`."""
    with _Errors():
        stores.tickets.transition(
            ticket_id,
            body.to,
            who.name,
            who.role,
            body.note,
            confirm_despite_fault=body.confirm_despite_fault,
        )
    return _detail(stores.tickets, ticket_id, stores)


@router.post("/{ticket_id}/assign", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def assign_ticket(
    ticket_id: TicketId, body: AssignRequest, stores: StoresDep, who: EngineerDep
) -> TicketDetail:
    with _Errors():
        stores.tickets.assign(
            ticket_id,
            body.assignee,
            who.name,
            who.role,
            body.note,
            contractor=body.contractor,
            team=body.team,
        )
    return _detail(stores.tickets, ticket_id, stores)


@router.post("/{ticket_id}/acknowledge", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def acknowledge_ticket(
    ticket_id: TicketId,
    stores: StoresDep,
    who: EngineerDep,
    body: AcknowledgeRequest | None = None,
) -> TicketDetail:
    """接单: the dispatched team accepts the work; stops the acknowledge clock."""
    with _Errors():
        stores.tickets.transition(
            ticket_id, State.ACKNOWLEDGED, who.name, who.role, body.note if body else None
        )
    return _detail(stores.tickets, ticket_id, stores)


@router.patch("/{ticket_id}/severity", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def set_severity(
    ticket_id: TicketId, body: SeverityRequest, stores: StoresDep, who: QualityDep
) -> TicketDetail:
    with _Errors():
        stores.tickets.set_severity(ticket_id, body.severity, who.name, who.role, body.note)
    return _detail(stores.tickets, ticket_id, stores)


@router.post(
    "/{ticket_id}/comments",
    response_model=CommentPublic,
    status_code=201,
    responses=LIFECYCLE_ERRORS,
)
def add_comment(
    ticket_id: TicketId, body: CommentRequest, stores: StoresDep, who: EngineerDep
) -> CommentPublic | JSONResponse:
    with _Errors():
        comment = stores.tickets.comment(ticket_id, who.name, body.text)
    return CommentPublic.model_validate(comment)
