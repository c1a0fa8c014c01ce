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
TokenRole = Literal["viewer", "inspector", "engineer", "quality", "admin"]
TicketSeverity = Literal["critical", "major", "minor"]
TransitionTarget = Literal[
    "dispatched", "acknowledged", "rectified", "verified", "closed", "reopened"
]
CardGrouping = Literal["equipment", "contractor", "team"]
# A text in each language the product speaks: {"zh-CN": ..., "en": ...}.
Labels = dict[str, str]


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
    summary_labels: Labels = Field(
        default_factory=dict,
        description="the summary in zh-CN and en (a ticket reported by hand: its own text in both)",
    )
    detector: str
    detector_version: str
    onset_ms: int
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    occurrences: int
    assignee: str | None
    contractor: str | None = None
    team: str | None = None
    dispatch_due_at: UtcDatetime
    acknowledge_due_at: UtcDatetime | None = None
    rectify_due_at: UtcDatetime
    recheck_due_at: UtcDatetime | None = None
    dispatched_at: UtcDatetime | None
    acknowledged_at: UtcDatetime | None = None
    rectified_at: UtcDatetime | None
    verified_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    reopened_at: UtcDatetime | None = None
    dispatch_breached: bool
    acknowledge_breached: bool = False
    rectify_breached: bool
    recheck_breached: bool = False
    escalation_level: int
    repeat_count: int
    previous_ticket_ids: list[int]
    card: str
    false_alarm: bool = False
    reopen_count: int
    detectors: list[str] = []
    allowed_next: list[str] = []
    state_label: Labels = Field(default_factory=dict, description="the state in zh-CN and en")
    card_label: Labels = Field(default_factory=dict, description="the card in zh-CN and en")
    device_online: bool | None = Field(
        None, description="the device's status as ingest last heard it; null for places"
    )


class TicketPage(BaseModel):
    """One page of GET /api/tickets/page: keyset paging, so every ticket can be reached."""

    items: list[TicketPublic]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page, with the same filters; null on the last"
    )
    total: int = Field(description="tickets matching the filters, counted up to 10,000")
    total_is_lower_bound: bool = Field(
        description="true when more than 10,000 match: `total` is then 10,000, a lower bound"
    )


class ListingProblem(BaseModel):
    """422 from the ticket list: one entry naming the parameter, the values it may take and
    the fix, in English (`en`) and Chinese (`zh`)."""

    detail: list[dict[str, Any]]


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
    recheck: dict[str, Any] | None = Field(
        None,
        description="what telemetry last showed of the fault since the rectification "
        "(fault_present, observed_at, detector); null before any sample was judged",
    )


class TransitionRequest(BaseModel):
    to: TransitionTarget = Field(
        description="target state; GET /api/lifecycle says which moves your role may make"
    )
    note: Text | None = Field(None, max_length=4000)
    confirm_despite_fault: bool = Field(
        False,
        description="verify or close although telemetry still shows the fault; recorded in "
        "the history. Without it such a move answers 409 `fault_still_present`",
    )


class AssignRequest(BaseModel):
    assignee: Text = Field(min_length=1, max_length=128, description="team or person")
    note: Text | None = Field(None, max_length=4000)
    contractor: Text | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="maintenance contractor (维保单位) responsible; repeat cards count to it",
    )
    team: Text | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="team (班组) responsible; repeat cards count to it",
    )


class AcknowledgeRequest(BaseModel):
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


class CardTally(BaseModel):
    """Yellow and red cards (黄牌 / 红牌) of one responsible party."""

    by: CardGrouping
    site: str | None = Field(None, description="with by=equipment")
    device_id: str | None = Field(None, description="with by=equipment")
    contractor: str | None = Field(None, description="with by=contractor; null: none named")
    team: str | None = Field(None, description="with by=team; null: none named")
    yellow: int
    red: int
    latest_ticket_id: int
    ticket_ids: list[int]


class TokenCreate(BaseModel):
    role: TokenRole
    name: Text = Field(min_length=1, max_length=128)
    contractor: Text | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="a contractor's (维保单位) name: the token then sees and acts on the "
        "tickets dispatched to that contractor only",
    )


class TokenCreated(BaseModel):
    id: int
    role: str
    name: str
    contractor: str | None = None
    token: str = Field(description="shown once; store it now")


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    created_at: UtcDatetime
    revoked: bool
    contractor: str | None = None


class Me(BaseModel):
    name: str
    role: str
    contractor: str | None = None


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


class KpiGroup(BaseModel):
    """One group's KPIs over the period: a scope (`site`, `building`, `kind` or
    `building_kind`) and the tags that define it, the figures, and the additive parts they
    are made of (the fields the KPI job writes to InfluxDB's `kpi` measurement)."""

    scope: str
    site: str
    building: str | None = None
    kind: str | None = None
    devices: int = Field(description="devices counted in the integrity rate")
    never_reported: int | None = Field(
        None, description="ledger devices counted that had not reported by the period's end"
    )
    integrity_pct: float | None = Field(None, description="设备完好率, %")
    timeliness_pct: float | None = Field(None, description="维修及时率, %")
    completion_pct: float | None = Field(None, description="整改完成率, %")
    response_time_s: float | None = Field(None, description="响应时间 (派单 to 接单), seconds")
    first_time_fix_pct: float | None = Field(None, description="一次性修复成功率, %")
    mttr_s: float | None = Field(None, description="平均修复时间 MTTR, seconds")
    mtbf_s: float | None = Field(None, description="平均故障间隔 MTBF, seconds")
    repeat_pct: float | None = Field(None, description="重复故障率, %")
    maintenance_execution_pct: float | None = Field(
        None, description="保养计划执行率, %; null with the reason in `unavailable`"
    )
    inspection_completion_pct: float | None = Field(
        None, description="巡检完成率, %; null with the reason in `unavailable`"
    )
    parts: dict[str, float | int | str] = Field(
        description="the figures' additive parts, as written to InfluxDB"
    )


class KpiReportPublic(BaseModel):
    """GET /api/kpis: the KPIs of [from, to) per group, with their labels."""

    model_config = ConfigDict(populate_by_name=True)

    period_from: UtcDatetime = Field(alias="from")
    period_to: UtcDatetime = Field(
        alias="to", description="the period's end: `to`, or now when `to` is later"
    )
    denominator: Literal["ledger", "reporting devices"] = Field(
        description="the integrity rate's denominator: the ledger's in-service equipment, "
        "or the devices that have reported while the ledger holds no confirmed device"
    )
    denominator_label: Labels
    groups: list[KpiGroup]
    unavailable: dict[str, Labels] = Field(
        description="where and why the planned-work KPIs are null, in zh-CN and en"
    )
    labels: dict[str, Labels] = Field(description="each KPI's name in zh-CN and en")


class KpiLabelsPublic(BaseModel):
    """GET /api/kpis/labels: the names of the KPIs, scopes and denominators."""

    kpis: dict[str, Labels]
    scopes: dict[str, Labels]
    denominators: dict[str, Labels]
    units: dict[str, Labels]


class ContractorScorecard(BaseModel):
    contractor: str
    tickets: int = Field(description="tickets opened in the period and dispatched to it")
    response_time_s: float | None = Field(description="mean dispatch to acknowledge (接单)")
    on_time_rectification_pct: float | None = Field(
        description="share of its rectifications (整改) made by their deadline"
    )
    first_time_fix_pct: float | None = Field(
        description="share of its close-outs (销项) never reopened"
    )
    repeats: int
    yellow_cards: int
    red_cards: int


class ScorecardReport(BaseModel):
    """GET /api/kpis/contractors: each contractor's scorecard over [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    period_from: UtcDatetime = Field(alias="from")
    period_to: UtcDatetime = Field(alias="to")
    contractors: list[ContractorScorecard]
    labels: dict[str, Labels] = Field(description="each figure's name in zh-CN and en")
