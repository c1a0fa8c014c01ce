"""Photos a person attaches to a finding: checked from their bytes, cleaned, thumbnailed,
kept in a blob store (a folder or an S3-compatible bucket) with one row each in SQL."""

from quality.photos.blobs import BlobStore, FileBlobStore, S3BlobStore
from quality.photos.images import PhotoRefused, PreparedPhoto, prepare
from quality.photos.limits import PhotoLimits
from quality.photos.store import PhotoNotFound, PhotoStore

__all__ = [
    "BlobStore",
    "FileBlobStore",
    "PhotoLimits",
    "PhotoNotFound",
    "PhotoRefused",
    "PhotoStore",
    "PreparedPhoto",
    "S3BlobStore",
    "prepare",
]
