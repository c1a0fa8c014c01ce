"""Yellow and red cards (黄牌 / 红牌) per equipment, contractor or team."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import CardGrouping, CardTally, UtcDatetime

router = APIRouter(prefix="/api/cards", tags=["tickets"], route_class=AuthenticatedRoute)


@router.get("", response_model=list[CardTally])
def cards(
    stores: StoresDep,
    who: ViewerDep,
    by: CardGrouping = "equipment",
    since: UtcDatetime | None = None,
) -> list[CardTally]:
    """Cards earned by repeat faults, grouped by the party responsible: the equipment, or
    the contractor or team the dispatch named. False alarms earn none. `since` counts only
    tickets opened from then on. A contractor's caller counts the tickets dispatched to
    it only."""
    return [CardTally(**row) for row in stores.tickets.cards(by, since, who.contractor)]
