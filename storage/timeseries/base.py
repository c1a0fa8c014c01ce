"""The time-series store protocol shared by the InfluxDB and embedded backends.

Both backends treat (measurement, tags, timestamp) as the point's identity,
so a batch written twice after a failed acknowledgement stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

FieldValue = float | int | bool | str


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Row:
    ts_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


class StoreUnavailable(RuntimeError):
    """The store cannot take writes now; the caller keeps the batch and retries."""


class PointsRefused(RuntimeError):
    """The store kept a batch except `refused`: (point, reason) pairs, each reason the
    store's own message (or why the point cannot be written). Retrying them cannot help;
    the caller keeps them as dead letters. Part of the protocol, so that callers never
    import a backend's error type."""

    def __init__(self, refused: list[tuple[Point, str]]) -> None:
        first = refused[0][1] if refused else ""
        super().__init__(f"the store refused {len(refused)} point(s), first: {first[:300]}")
        self.refused = refused


class SeriesStore(Protocol):
    def write(self, points: Sequence[Point]) -> None:
        """Store the points; raise StoreUnavailable to have them all retried, or
        PointsRefused once every point but the refused ones is stored."""

    def recent(
        self, measurement: str, device_id: str, limit: int, site: str | None = None
    ) -> list[Row]:
        """The device's newest rows, newest first; `site` narrows to that site's device of
        this id (the same id in two sites is two devices)."""

    def count(self, measurement: str, device_id: str | None = None) -> int: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
