"""Public API shapes (what clients see), separate from the storage models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from quality.tickets.models import aware

# SQLite hands times back without their zone; every stored time is UTC, and a client must be
# able to read it as one (RFC 3339 `date-time` needs the offset).
UtcDatetime = Annotated[datetime, AfterValidator(aware)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL (\\u0000) characters; remove them")
    return value


# Text a client sends that reaches the database. PostgreSQL refuses NUL in text (that was a
# 500), so it is refused up front, alike on every backend.
Text = Annotated[str, AfterValidator(_no_nul)]

# The roles a token may carry (quality.accounts.HUMAN_ROLES), the ticket severities
# (quality.tickets.policy.SEVERITIES) and the states a transition may lead to (the targets in
# quality.tickets.lifecycle.TRANSITIONS), spelled out so the spec lists them for clients.
TokenRole = Literal["viewer", "engineer", "quality", "admin"]
TicketSeverity = Literal["critical", "major", "minor"]
TransitionTarget = Literal["dispatched", "rectified", "verified", "closed", "reopened"]


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
    time: UtcDatetime
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
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    occurrences: int
    assignee: str | None
    dispatch_due_at: UtcDatetime
    rectify_due_at: UtcDatetime
    dispatched_at: UtcDatetime | None
    rectified_at: UtcDatetime | None
    verified_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    dispatch_breached: bool
    rectify_breached: bool
    escalation_level: int
    repeat_count: int
    previous_ticket_ids: list[int]
    card: str
    reopen_count: int
    detectors: list[str] = []
    allowed_next: list[str] = []


class OccurrencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    onset_ms: int
    recorded_at: UtcDatetime
    summary: str


class HistoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: UtcDatetime
    actor: str
    role: str
    from_state: str | None
    to_state: str
    note: str | None


class CommentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDatetime
    author: str
    text: str


class TicketDetail(TicketPublic):
    evidence: dict[str, Any]
    verification: dict[str, Any] | None
    occurrence_log: list[OccurrencePublic]
    history: list[HistoryPublic]
    comments: list[CommentPublic]


class TransitionRequest(BaseModel):
    to: TransitionTarget = Field(
        description="target state; GET /api/lifecycle says which moves your role may make"
    )
    note: Text | None = Field(None, max_length=4000)


class AssignRequest(BaseModel):
    assignee: Text = Field(min_length=1, max_length=128, description="team or person")
    note: Text | None = Field(None, max_length=4000)


class SeverityRequest(BaseModel):
    severity: TicketSeverity
    note: Text | None = Field(None, max_length=4000)


class CommentRequest(BaseModel):
    text: Text = Field(min_length=1, max_length=4000)


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
    role: TokenRole
    name: Text = Field(min_length=1, max_length=128)


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
    created_at: UtcDatetime
    revoked: bool


class Me(BaseModel):
    name: str
    role: str


class DeadLetterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: UtcDatetime
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
    reason: str | None = None  # why it is degraded, e.g. time-series writes failing


class Problem(BaseModel):
    """An error a handler raises itself; `detail` says what to do instead."""

    detail: str


class AllowedStates(BaseModel):
    message: str
    allowed: list[str] = Field(description="the legal next states from the current one")


class TransitionConflict(BaseModel):
    detail: AllowedStates


class InvalidRequest(BaseModel):
    """422: a message from the lifecycle (e.g. a missing note), or the list of field errors
    when the request does not fit the declared shape."""

    detail: str | list[dict[str, Any]]
