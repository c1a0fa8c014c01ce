"""`POST /api/tickets/manual`: a finding reported by a person (巡检员 and above), with
photos, recorded through the ticket store as a detector's finding is.

The request is a multipart form: where (a device: `site` and `device_id`; or a place:
`site`, `building`, `place` and optionally `floor`), `category` (a fault type listed by
`GET /api/inspections/categories`, or `other`), `severity`, `description`, and up to
`FACMON_PHOTO_MAX_COUNT` files in `photos`. Every photo is checked before anything is
stored; a refused one answers 413, 415 or 422 naming the field, and no ticket or photo is
kept. A viewer may not report (403).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import BaseModel

from api.deps import StoresDep, require
from api.routes.photos import (
    PhotoPublic,
    Refusal,
    RefusedInput,
    photo_limits,
    photo_public,
    photo_refusal,
    photo_store,
    read_photos,
    refusal,
)
from api.routing import AuthenticatedRoute
from api.stores import Stores
from contract.finding import Severity
from quality.accounts import Principal
from quality.inspections import messages
from quality.inspections.categories import CATEGORIES
from quality.inspections.manual import ManualReport, Where, open_manual
from quality.ledger.store import LedgerStore
from quality.ledger.validation import IDENTIFIER_PATTERN
from quality.photos import PhotoRefused
from quality.tickets.lifecycle import Role

router = APIRouter(prefix="/api/tickets", tags=["tickets"], route_class=AuthenticatedRoute)

InspectorDep = Annotated[Principal, Depends(require(Role.INSPECTOR))]

UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": Refusal, "description": "a photo, or the whole request, is too large"},
    415: {"model": Refusal, "description": "a photo is not a JPEG, PNG or HEIC image"},
    422: {"model": RefusedInput, "description": "a field is wrong or missing; it is named"},
}


class ManualTicketResult(BaseModel):
    ticket_id: int
    opened: bool
    reopened: bool
    photos: list[PhotoPublic]


def device_lookup(stores: Stores) -> Any:
    """(site, device_id) -> (building, kind), from the equipment ledger, else the devices
    seen by ingest; None when neither knows it."""
    ledger = LedgerStore(stores.engine)

    def lookup(site: str, device_id: str) -> tuple[str, str] | None:
        record = ledger.get(site, device_id)
        if record is not None:
            return record.building, str(record.kind)
        device = stores.devices.get(site, device_id)
        if device is not None:
            return device.building, device.kind
        return None

    return lookup


@router.post(
    "/manual",
    status_code=201,
    response_model=ManualTicketResult,
    responses=UPLOAD_ERRORS,
)
def open_manual_ticket(
    request: Request,
    stores: StoresDep,
    who: InspectorDep,
    site: Annotated[str, Form(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)],
    category: Annotated[str, Form(min_length=1, max_length=64)],
    severity: Annotated[Severity, Form()],
    description: Annotated[str, Form(min_length=1, max_length=2000)],
    device_id: Annotated[
        str | None, Form(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    ] = None,
    building: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    kind: Annotated[str | None, Form(min_length=1, max_length=16)] = None,
    floor: Annotated[str | None, Form(min_length=1, max_length=16)] = None,
    place: Annotated[str | None, Form(min_length=1, max_length=40)] = None,
    observed_at: Annotated[datetime | None, Form(description="when it was seen")] = None,
    photos: Annotated[list[UploadFile] | None, File(description="JPEG, PNG or HEIC photos")] = None,
) -> ManualTicketResult | Response:
    """Open a ticket for a finding seen by a person (发现问题), or add it to the active
    ticket of the same device (or place) and category."""
    if category not in CATEGORIES:
        return refusal(422, messages.unknown_category(category), "category")
    where = _where(stores, site, device_id, building, kind, floor, place)
    if isinstance(where, Response):
        return where
    now = stores.tickets.clock.now()
    seen = in_utc(observed_at, "observed_at")
    if isinstance(seen, Response):
        return seen
    if seen is not None and seen > now + timedelta(minutes=5):
        return refusal(422, messages.answered_in_future(seen.isoformat()), "observed_at")
    limits = photo_limits(stores)
    try:
        prepared = read_photos(photos, "photos", limits)
    except PhotoRefused as error:
        return photo_refusal(error)
    store = photo_store(request, stores)
    saved = store.save(prepared, who.name)
    report = ManualReport(
        where=where,
        category=category,
        severity=severity,
        description=description,
        reported_by=who.name,
        observed_at=seen or now,
        photo_ids=tuple(photo.id for photo in saved),
    )
    try:
        result = open_manual(stores.tickets, report)
    except BaseException:
        store.discard([photo.id for photo in saved])
        raise
    return ManualTicketResult(
        ticket_id=result.ticket_id,
        opened=result.opened,
        reopened=result.reopened,
        photos=[photo_public(photo) for photo in saved],
    )


def in_utc(moment: datetime | None, field: str) -> datetime | Response | None:
    """A client's time in UTC (a time without an offset is taken as UTC), or a 422 when it
    falls outside what a datetime can hold once shifted (0001-01-01 at +08:00)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return refusal(422, messages.time_out_of_range(field), field)


def _where(
    stores: Stores,
    site: str,
    device_id: str | None,
    building: str | None,
    kind: str | None,
    floor: str | None,
    place: str | None,
) -> Where | Response:
    if device_id is not None:
        if building and kind:
            return Where(site, building, kind, device_id, floor, place)
        found = device_lookup(stores)(site, device_id)
        if found is None:
            return refusal(422, messages.unknown_device(site, device_id), "device_id")
        return Where(site, building or found[0], kind or found[1], device_id, floor, place)
    if place is None or building is None:
        return refusal(422, messages.where_missing(), "place")
    return Where(site, building, "place", None, floor, place)
