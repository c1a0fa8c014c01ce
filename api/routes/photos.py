"""Photos attached to tickets and inspection answers: `GET /api/photos/{id}` serves the
clean copy (EXIF orientation applied, every metadata block, GPS included, removed; HEIC
served as JPEG) and `…/thumbnail` a JPEG at most 320 px. Viewers may read them.

Also the shared pieces of the routes that take photos: the store and limits from the
settings, reading the multipart uploads, the larger body cap those routes need
(`api.body_limit.RouteCap`, with `UPLOAD_PATHS`), and the bilingual refusal they answer with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.stores import Stores
from quality.ledger.messages import Text
from quality.photos import (
    FileBlobStore,
    PhotoLimits,
    PhotoNotFound,
    PhotoRefused,
    PhotoStore,
    PreparedPhoto,
    S3BlobStore,
    prepare,
)
from quality.photos.blobs import BlobMissing
from quality.photos.images import check_count
from quality.photos.messages import not_found
from quality.photos.store import PhotoRecord

router = APIRouter(prefix="/api/photos", tags=["photos"], route_class=AuthenticatedRoute)

PhotoId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="photo id, as a ticket's evidence lists it")
]
# Requests that carry photos, and so get the larger body cap.
UPLOAD_PATHS: Final = re.compile(r"^/api/(tickets/manual|inspections/rounds/[^/]+/answers)$")


class Refusal(BaseModel):
    """An error in both languages: `detail` holds both, `field` names what to fix."""

    detail: str
    field: str | None = None
    en: str
    zh: str


class RefusedInput(BaseModel):
    """422: either FastAPI's list of field errors (`loc`, `msg`, `type`), or one problem
    this API found itself, in both languages, with `field` naming it."""

    detail: str | list[dict[str, Any]]
    field: str | None = None
    en: str | None = None
    zh: str | None = None


class PhotoPublic(BaseModel):
    id: str
    content_type: str
    width: int
    height: int
    size: int = Field(description="bytes of the copy served")
    upload_type: str = Field(description="the type found in the uploaded bytes")
    url: str
    thumbnail_url: str


def photo_public(record: PhotoRecord) -> PhotoPublic:
    return PhotoPublic(
        id=record.id,
        content_type=record.content_type,
        width=record.width,
        height=record.height,
        size=record.size,
        upload_type=record.upload_type,
        url=record.url,
        thumbnail_url=record.thumbnail_url,
    )


def refusal(status: int, message: Text, field: str | None = None) -> Response:
    """ASCII-escaped JSON: a message may echo input holding an unpaired surrogate."""
    body = {"detail": message.both(), "field": field, "en": message.en, "zh": message.zh}
    return Response(
        json.dumps(body, separators=(",", ":")).encode("ascii"),
        status,
        media_type="application/json",
    )


def photo_limits(stores: Stores | None) -> PhotoLimits:
    settings = getattr(stores, "settings", None)
    defaults = PhotoLimits()
    return PhotoLimits(
        max_bytes=getattr(settings, "photo_max_bytes", defaults.max_bytes),
        max_count=getattr(settings, "photo_max_count", defaults.max_count),
    )


def _open_photo_store(stores: Stores) -> PhotoStore:
    settings = stores.settings
    if getattr(settings, "photo_store", "file") == "s3":
        bucket = getattr(settings, "s3_bucket", None)
        if not bucket:
            raise RuntimeError(
                "FACMON_PHOTO_STORE=s3 needs FACMON_S3_BUCKET: name an existing bucket"
            )
        blobs: Any = S3BlobStore.connect(
            getattr(settings, "s3_endpoint", None),
            bucket,
            getattr(settings, "s3_access_key", None),
            getattr(settings, "s3_secret_key", None),
            getattr(settings, "s3_region", None),
        )
        return PhotoStore(stores.engine, blobs, "s3", stores.tickets.clock)
    data_dir = FilePath(getattr(settings, "data_dir", ".data"))
    return PhotoStore(
        stores.engine, FileBlobStore(data_dir / "photos"), "file", stores.tickets.clock
    )


def photo_store(request: Request, stores: Stores) -> PhotoStore:
    """One photo store per app, made on first use from the service's settings."""
    app: FastAPI = request.app
    store: PhotoStore | None = getattr(app.state, "photo_store", None)
    if store is None or store.engine is not stores.engine:
        store = _open_photo_store(stores)
        app.state.photo_store = store
    return store


def read_photos(
    uploads: Sequence[UploadFile] | None, field: str, limits: PhotoLimits
) -> list[PreparedPhoto]:
    """Every upload checked and prepared, or PhotoRefused before anything is stored."""
    files = [upload for upload in uploads or () if upload is not None]
    check_count(field, len(files), limits)
    prepared = []
    for index, upload in enumerate(files):
        name = f"{field}[{index}]"
        data = upload.file.read(limits.max_bytes + 1)
        prepared.append(prepare(data, name, limits))
    return prepared


def photo_refusal(error: PhotoRefused) -> Response:
    return refusal(error.status, error.message, error.field)


PHOTO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the image",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    404: {"model": Refusal, "description": "no such photo"},
}


def _served(stores: Stores, request: Request, photo_id: str, thumbnail: bool) -> Response:
    store = photo_store(request, stores)
    try:
        data, media_type = store.thumbnail(photo_id) if thumbnail else store.content(photo_id)
    except (PhotoNotFound, BlobMissing):
        return refusal(404, not_found(photo_id), "photo_id")
    # Photos never change under their id: a client may keep them.
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    return Response(data, media_type=media_type, headers=headers)


@router.get("/{photo_id}", response_class=Response, responses=PHOTO_RESPONSES)
def get_photo(photo_id: PhotoId, request: Request, stores: StoresDep, _who: ViewerDep) -> Response:
    return _served(stores, request, photo_id, thumbnail=False)


@router.get("/{photo_id}/thumbnail", response_class=Response, responses=PHOTO_RESPONSES)
def get_thumbnail(
    photo_id: PhotoId, request: Request, stores: StoresDep, _who: ViewerDep
) -> Response:
    return _served(stores, request, photo_id, thumbnail=True)
