"""Public API shapes (what clients see), separate from the storage models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from facmon.tickets.models import aware


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
    detector_severity: str
    state: str
    summary: str
    detector: str
    detector_version: str
    onset_ms: int
    opened_at: datetime
    updated_at: datetime
    occurrences: int
    assignee: str | None
    dispatch_due_at: datetime
    rectify_due_at: datetime
    dispatched_at: datetime | None
    rectified_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    dispatch_breached: bool
    rectify_breached: bool
    escalation_level: int
    repeat_count: int
    previous_ticket_ids: list[int]
    card: str
    reopen_count: int
    allowed_next: list[str] = []

    @field_validator(
        "opened_at",
        "updated_at",
        "dispatch_due_at",
        "rectify_due_at",
        "dispatched_at",
        "rectified_at",
        "verified_at",
        "closed_at",
        mode="before",
    )
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return aware(value)


class OccurrencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    onset_ms: int
    recorded_at: datetime
    summary: str


class HistoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    role: str
    from_state: str | None
    to_state: str
    note: str | None


class CommentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    author: str
    text: str


class TicketDetail(TicketPublic):
    evidence: dict[str, Any]
    verification: dict[str, Any] | None
    occurrence_log: list[OccurrencePublic]
    history: list[HistoryPublic]
    comments: list[CommentPublic]


class TransitionRequest(BaseModel):
    to: str = Field(description="target state")
    note: str | None = Field(None, max_length=4000)


class AssignRequest(BaseModel):
    assignee: str = Field(min_length=1, max_length=128, description="team or person")
    note: str | None = Field(None, max_length=4000)


class SeverityRequest(BaseModel):
    severity: str
    note: str | None = Field(None, max_length=4000)


class CommentRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ChronicEquipment(BaseModel):
    device_id: str
    site: str
    building: str
    kind: str
    fault_type: str
    repeat_count: int
    latest_ticket_id: int
    ticket_ids: list[int]


class TokenCreate(BaseModel):
    role: str
    name: str = Field(min_length=1, max_length=128)


class TokenCreated(BaseModel):
    id: int
    role: str
    name: str
    token: str = Field(description="shown once; store it now")


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    created_at: datetime
    revoked: bool


class Me(BaseModel):
    name: str
    role: str


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
