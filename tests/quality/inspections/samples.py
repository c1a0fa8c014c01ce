"""Sample photos made on the spot: JPEG (with EXIF orientation and a GPS position), PNG,
HEIC (through pillow-heif), and a file that is no image."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg(width: int = 800, height: int = 600, *, rotated: bool = False, gps: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), "navy")
    exif = Image.Exif()
    if rotated:
        exif[ORIENTATION] = 6  # the camera was turned: show rotated 90° clockwise
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def heic(width: int = 400, height: int = 300) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(buffer, format="HEIF")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (10, 10)).save(buffer, format="GIF")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
