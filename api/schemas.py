"""Public API shapes (what clients see), separate from the storage models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    site: str
    building: str
    kind: str
    online: bool
    last_seen_ms: int | None
    last_sample_ts_ms: int | None
    last_seq: int | None
    samples: int


class TelemetrySample(BaseModel):
    ts_ms: int
    time: datetime
    metrics: dict[str, Any]


class TelemetryPublic(BaseModel):
    device_id: str
    kind: str
    samples: list[TelemetrySample]


class TicketPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: str
    site: str
    building: str
    kind: str
    fault_type: str
    severity: str
    state: str
    summary: str
    detector: str
    detector_version: str
    onset_ms: int
    opened_at: datetime
    updated_at: datetime
    occurrences: int


class OccurrencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    onset_ms: int
    recorded_at: datetime
    summary: str


class TicketDetail(TicketPublic):
    evidence: dict[str, Any]
    occurrence_log: list[OccurrencePublic]


class DeadLetterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    topic: str
    payload: str
    payload_encoding: str
    payload_size: int
    truncated: bool
    reason: str


class Health(BaseModel):
    status: str
    series_store: bool
    database: bool
