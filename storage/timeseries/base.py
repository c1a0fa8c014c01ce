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


class SeriesStore(Protocol):
    def write(self, points: Sequence[Point]) -> None: ...

    def recent(self, measurement: str, device_id: str, limit: int) -> list[Row]: ...

    def count(self, measurement: str, device_id: str | None = None) -> int: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
