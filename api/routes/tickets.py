"""Quality tickets opened by the detectors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import StoresDep
from api.schemas import OccurrencePublic, TicketDetail, TicketPublic

router = APIRouter(prefix="/api/tickets", tags=["tickets"])


@router.get("", response_model=list[TicketPublic])
def list_tickets(
    stores: StoresDep,
    state: str | None = None,
    device_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TicketPublic]:
    tickets = stores.tickets.list(state=state, device_id=device_id, limit=limit, offset=offset)
    return [TicketPublic.model_validate(t) for t in tickets]


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: int, stores: StoresDep) -> TicketDetail:
    found = stores.tickets.get(ticket_id)
    if found is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    ticket, occurrences = found
    public = TicketPublic.model_validate(ticket)
    return TicketDetail(
        **public.model_dump(),
        evidence=ticket.evidence,
        occurrence_log=[OccurrencePublic.model_validate(o) for o in occurrences],
    )
