"""Quality tickets: search, detail, transitions, assignment, severity, comments."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from api.deps import (
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
    return public


def _detail(store: TicketStore, ticket_id: int) -> TicketDetail:
    found = store.get(ticket_id)
    if found is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    ticket, occurrences = found
    return TicketDetail(
        **_public(ticket).model_dump(),
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
    return [_public(t) for t in tickets]


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
        Query(description="text in the summary, device id, site or building; any case"),
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
        items=[_public(t) for t in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
        total_is_lower_bound=page.total_is_lower_bound,
    )


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: TicketId, stores: StoresDep, _who: ViewerDep) -> TicketDetail:
    return _detail(stores.tickets, ticket_id)


@router.get("/{ticket_id}/history", response_model=list[HistoryPublic])
def ticket_history(ticket_id: TicketId, stores: StoresDep, _who: ViewerDep) -> list[HistoryPublic]:
    if stores.tickets.get(ticket_id) is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return [HistoryPublic.model_validate(h) for h in stores.tickets.history(ticket_id)]


@router.post("/{ticket_id}/transitions", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def transition_ticket(
    ticket_id: TicketId, body: TransitionRequest, stores: StoresDep, who: EngineerDep
) -> TicketDetail:
    with _Errors():
        stores.tickets.transition(ticket_id, body.to, who.name, who.role, body.note)
    return _detail(stores.tickets, ticket_id)


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
    return _detail(stores.tickets, ticket_id)


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
    return _detail(stores.tickets, ticket_id)


@router.patch("/{ticket_id}/severity", response_model=TicketDetail, responses=LIFECYCLE_ERRORS)
def set_severity(
    ticket_id: TicketId, body: SeverityRequest, stores: StoresDep, who: QualityDep
) -> TicketDetail:
    with _Errors():
        stores.tickets.set_severity(ticket_id, body.severity, who.name, who.role, body.note)
    return _detail(stores.tickets, ticket_id)


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
