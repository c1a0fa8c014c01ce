"""Photos kept all or nothing: the blobs of a batch are written, then their rows in one
transaction; if any step fails, what was written is removed again, so an upload that
is refused, or whose ticket cannot be opened (`discard`), leaves no orphan behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.photos.blobs import BlobStore
from quality.photos.images import THUMBNAIL_TYPE, PreparedPhoto
from quality.photos.models import Photo

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


class PhotoNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class PhotoRecord:
    id: str
    content_type: str
    width: int
    height: int
    size: int
    upload_type: str
    uploaded_by: str
    uploaded_at: datetime

    @property
    def url(self) -> str:
        return f"/api/photos/{self.id}"

    @property
    def thumbnail_url(self) -> str:
        return f"/api/photos/{self.id}/thumbnail"


def _record(row: Photo) -> PhotoRecord:
    return PhotoRecord(
        row.id,
        row.content_type,
        row.width,
        row.height,
        row.size,
        row.upload_type,
        row.uploaded_by,
        aware(row.uploaded_at) or row.uploaded_at,
    )


class PhotoStore:
    def __init__(
        self, engine: Engine, blobs: BlobStore, storage: str, clock: Clock | None = None
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.storage = storage
        self.clock = clock or SystemClock()

    def save(self, photos: Sequence[PreparedPhoto], uploaded_by: str) -> list[PhotoRecord]:
        """Store every photo, or none of them."""
        now = self.clock.now()
        rows: list[Photo] = []
        written: list[str] = []
        try:
            for photo in photos:
                photo_id = secrets.token_hex(16)
                key = f"{photo_id[:2]}/{photo_id}.{EXTENSIONS[photo.content_type]}"
                thumbnail_key = f"{photo_id[:2]}/{photo_id}.thumbnail.jpg"
                self.blobs.put(key, photo.data, photo.content_type)
                written.append(key)
                self.blobs.put(thumbnail_key, photo.thumbnail, THUMBNAIL_TYPE)
                written.append(thumbnail_key)
                rows.append(
                    Photo(
                        id=photo_id,
                        content_type=photo.content_type,
                        width=photo.width,
                        height=photo.height,
                        size=len(photo.data),
                        upload_type=photo.upload_type,
                        upload_bytes=photo.upload_bytes,
                        sha256=photo.sha256,
                        uploaded_by=uploaded_by[:128],
                        uploaded_at=now,
                        storage=self.storage,
                        key=key,
                        thumbnail_key=thumbnail_key,
                    )
                )
            records = [_record(row) for row in rows]
            with Session(self.engine) as session, session.begin():
                session.add_all(rows)
            return records
        except BaseException:
            self._remove_blobs(written)
            raise

    def discard(self, photo_ids: Sequence[str]) -> None:
        """Remove photos saved for something that was then not recorded."""
        if not photo_ids:
            return
        with Session(self.engine) as session, session.begin():
            rows = session.scalars(select(Photo).where(Photo.id.in_(photo_ids))).all()
            keys = [key for row in rows for key in (row.key, row.thumbnail_key)]
            session.execute(delete(Photo).where(Photo.id.in_(photo_ids)))
        self._remove_blobs(keys)

    def _remove_blobs(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                self.blobs.delete(key)
            except Exception:
                continue

    def _row(self, photo_id: str) -> Photo:
        with Session(self.engine) as session:
            row = session.get(Photo, photo_id)
        if row is None:
            raise PhotoNotFound(photo_id)
        return row

    def get(self, photo_id: str) -> PhotoRecord:
        return _record(self._row(photo_id))

    def content(self, photo_id: str) -> tuple[bytes, str]:
        """The served copy and its media type."""
        row = self._row(photo_id)
        return self.blobs.get(row.key), row.content_type

    def thumbnail(self, photo_id: str) -> tuple[bytes, str]:
        row = self._row(photo_id)
        return self.blobs.get(row.thumbnail_key), THUMBNAIL_TYPE

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Photo)) or 0
