"""Photos are judged by their bytes, cleaned, thumbnailed, and stored all or nothing, in a
folder or in a real S3-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine

from quality.photos import (
    FileBlobStore,
    PhotoLimits,
    PhotoNotFound,
    PhotoRefused,
    PhotoStore,
    S3BlobStore,
    prepare,
)
from quality.photos.blobs import BlobMissing
from quality.photos.images import check_count
from tests.conftest import unique
from tests.quality.inspections import samples

LIMITS = PhotoLimits()


def test_jpeg_png_and_heic_are_accepted_and_heic_is_served_as_jpeg() -> None:
    jpeg = prepare(samples.jpeg(), "photos[0]", LIMITS)
    png = prepare(samples.png(), "photos[1]", LIMITS)
    heic = prepare(samples.heic(), "photos[2]", LIMITS)
    assert (jpeg.upload_type, jpeg.content_type) == ("image/jpeg", "image/jpeg")
    assert (png.upload_type, png.content_type) == ("image/png", "image/png")
    assert (heic.upload_type, heic.content_type) == ("image/heic", "image/jpeg")
    assert samples.opened(heic.data).format == "JPEG"
    assert samples.opened(png.data).mode == "RGBA"  # PNG kept losslessly, alpha included
    for photo in (jpeg, png, heic):
        thumbnail = samples.opened(photo.thumbnail)
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) == 320


def test_orientation_is_applied_and_gps_is_dropped() -> None:
    upload = samples.jpeg(800, 600, rotated=True, gps=True)
    assert samples.GPS_IFD in samples.opened(upload).getexif()
    photo = prepare(upload, "photos[0]", LIMITS)
    served = samples.opened(photo.data)
    assert served.size == (600, 800)  # turned upright
    assert (photo.width, photo.height) == (600, 800)
    exif = served.getexif()
    assert samples.GPS_IFD not in exif
    assert samples.ORIENTATION not in exif
    assert samples.opened(photo.thumbnail).size == (240, 320)


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (samples.PDF, 415, "not an image we can read"),
        (samples.gif(), 415, "a GIF file"),
        (samples.jpeg()[:400], 422, "damaged or cut short"),
        (b"", 422, "empty"),
    ],
)
def test_a_wrong_file_is_refused_naming_the_field(data: bytes, status: int, words: str) -> None:
    with pytest.raises(PhotoRefused) as refused:
        prepare(data, "photos[1]", LIMITS)
    assert refused.value.status == status
    assert refused.value.field == "photos[1]"
    assert words in refused.value.message.en
    assert refused.value.message.en.startswith("photos[1]")
    assert refused.value.message.zh.startswith("photos[1]")


def test_size_pixel_and_count_limits() -> None:
    small = PhotoLimits(max_bytes=2_000, max_count=2, max_pixels=100_000)
    with pytest.raises(PhotoRefused) as too_big:
        prepare(samples.jpeg(800, 600) + b"\0" * 2_000, "photos[0]", small)
    assert too_big.value.status == 413
    assert "2000 bytes" in too_big.value.message.en
    with pytest.raises(PhotoRefused) as too_wide:
        prepare(samples.png(1000, 1000), "photos[0]", PhotoLimits(max_pixels=100_000))
    assert too_wide.value.status == 413
    with pytest.raises(PhotoRefused) as too_many:
        check_count("photos", 3, small)
    assert (too_many.value.status, too_many.value.field) == (422, "photos")
    assert "at most 2" in too_many.value.message.en
    check_count("photos", 2, small)


def _saved_and_read(store: PhotoStore) -> None:
    prepared = [prepare(samples.jpeg(), "p0", LIMITS), prepare(samples.png(), "p1", LIMITS)]
    records = store.save(prepared, "inspector-wang")
    assert [r.content_type for r in records] == ["image/jpeg", "image/png"]
    data, media_type = store.content(records[1].id)
    assert (data, media_type) == (prepared[1].data, "image/png")
    thumbnail, thumbnail_type = store.thumbnail(records[0].id)
    assert (thumbnail, thumbnail_type) == (prepared[0].thumbnail, "image/jpeg")
    assert store.get(records[0].id).uploaded_by == "inspector-wang"
    store.discard([records[0].id])
    with pytest.raises(PhotoNotFound):
        store.content(records[0].id)
    assert store.count() == 1


def test_file_store_round_trip(engine_factory: Callable[[], Engine], tmp_path: Path) -> None:
    root = tmp_path / "photos"
    store = PhotoStore(engine_factory(), FileBlobStore(root), "file")
    _saved_and_read(store)
    # One photo left: its copy and its thumbnail.
    assert len([p for p in root.rglob("*") if p.is_file()]) == 2


class FailingBlobs(FileBlobStore):
    """A folder that refuses the third write, as a full disk or a dropped bucket would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.writes += 1
        if self.writes == 3:
            raise OSError("no space left on device")
        super().put(key, data, content_type)


def test_a_failed_write_leaves_no_photo_behind(
    engine_factory: Callable[[], Engine], tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    store = PhotoStore(engine_factory(), FailingBlobs(root), "file")
    prepared = [prepare(samples.jpeg(), "p0", LIMITS), prepare(samples.png(), "p1", LIMITS)]
    with pytest.raises(OSError, match="no space"):
        store.save(prepared, "wang")
    assert store.count() == 0
    assert [p for p in root.rglob("*") if p.is_file()] == []


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint (moto's server) on a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_store_round_trip(engine_factory: Callable[[], Engine], s3_endpoint: str) -> None:
    bucket = unique("photos")
    admin = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
        region_name="us-east-1",
    )
    admin.create_bucket(Bucket=bucket)
    blobs = S3BlobStore.connect(s3_endpoint, bucket, "test-key", "test-secret")
    store = PhotoStore(engine_factory(), blobs, "s3")
    photo = prepare(samples.heic(), "p0", LIMITS)
    (record,) = store.save([photo], "wang")
    # The objects are in the bucket itself, read back by a separate client.
    keys = sorted(o["Key"] for o in admin.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        f"photos/{record.id[:2]}/{record.id}.jpg",
        f"photos/{record.id[:2]}/{record.id}.thumbnail.jpg",
    ]
    stored = admin.get_object(Bucket=bucket, Key=keys[0])
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Body"].read() == photo.data
    assert store.content(record.id) == (photo.data, "image/jpeg")
    store.discard([record.id])
    assert admin.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    with pytest.raises(BlobMissing):
        blobs.get(keys[0].removeprefix("photos/"))
