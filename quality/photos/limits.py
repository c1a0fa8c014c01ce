"""How much a person may attach: bytes per photo, photos per ticket or answer, pixels.

>>> PhotoLimits().max_count
6
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    max_bytes: int = 10 * MIB
    max_count: int = 6
    # A phone's 48-megapixel sensor fits; a small file that decodes to gigapixels does not.
    max_pixels: int = 64_000_000
    thumbnail_px: int = 320

    def upload_body_bytes(self) -> int:
        """The request body an upload of the most photos, each at the limit, needs: the
        photos plus a megabyte for the form's other fields and the multipart framing."""
        return self.max_count * self.max_bytes + MIB
