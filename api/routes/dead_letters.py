"""Messages ingest refused, with the reason, for inspection and replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Offset, StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import DeadLetterPublic

router = APIRouter(
    prefix="/api/dead-letters", tags=["dead letters"], route_class=AuthenticatedRoute
)


@router.get("", response_model=list[DeadLetterPublic])
def list_dead_letters(
    stores: StoresDep,
    _who: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[DeadLetterPublic]:
    return [DeadLetterPublic.model_validate(d) for d in stores.dead_letters.list(limit, offset)]
