"""Equipment views across tickets: chronic (red-carded) equipment."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import ChronicEquipment

router = APIRouter(prefix="/api/equipment", tags=["equipment"], route_class=AuthenticatedRoute)


@router.get("/chronic", response_model=list[ChronicEquipment])
def chronic_equipment(stores: StoresDep, who: ViewerDep) -> list[ChronicEquipment]:
    """Red-carded equipment; a contractor's caller sees the red cards of the tickets
    dispatched to it, each with its own tickets only."""
    return [ChronicEquipment(**row) for row in stores.tickets.chronic(who.contractor)]
