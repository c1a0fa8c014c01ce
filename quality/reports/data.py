"""What a quality report holds, as plain records: the assembly (`quality.reports.assembly`)
fills them from the stores' records and the renderers (`quality.reports.render`) only lay
them out, so figures are tested without a browser and pages without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PdcaRecord:
    """A PDCA action (计划-执行-检查-处理) as the report reads it."""

    id: int
    title: str
    site: str | None
    target_kpi: str
    plan: str
    do: str
    check: str
    act: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class KpiRow:
    """One KPI against its target, and its change against the previous period."""

    code: str
    value: float | None
    previous: float | None
    target: float | None
    meets: bool | None
    direction: str
    """`min`: higher is better; `max`: lower is better."""

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True, slots=True)
class KindRow:
    """The integrity rate of one kind of equipment (elevators have their own target)."""

    kind: str
    devices: int
    integrity_pct: float | None
    previous_pct: float | None
    target: float | None
    meets: bool | None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    label: str
    start: datetime
    integrity_pct: float | None
    """None for a bucket that has not begun (a report of a running period)."""
    opened: dict[str, int]
    """Tickets opened in the bucket per severity (critical, major, minor)."""


@dataclass(frozen=True, slots=True)
class EquipmentRow:
    site: str
    device_id: str
    building: str
    kind: str
    tickets: int
    impairing: int
    """Of them, major or critical: those that count against integrity."""
    fault_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaultRow:
    fault_type: str
    tickets: int
    devices: int


@dataclass(frozen=True, slots=True)
class RepeatRow:
    ticket_id: int
    site: str
    device_id: str
    fault_type: str
    repeat_count: int
    card: str
    opened_at: datetime
    summary: tuple[tuple[str, str], ...] = ()
    """The ticket's summary by language tag."""


@dataclass(frozen=True, slots=True)
class ScorecardRow:
    contractor: str
    tickets: int
    response_time_s: float | None
    on_time_rectification_pct: float | None
    first_time_fix_pct: float | None
    repeats: int
    yellow_cards: int
    red_cards: int


@dataclass(frozen=True, slots=True)
class OverdueRow:
    ticket_id: int
    site: str
    device_id: str
    fault_type: str
    severity: str
    stage: str
    """The deadline missed: `dispatch` (still not dispatched) or `rectify`."""
    due_at: datetime
    overdue_s: float
    """How late at the report's end."""
    contractor: str | None
    summary: tuple[tuple[str, str], ...] = ()
    """The ticket's summary by language tag."""


@dataclass(frozen=True, slots=True)
class MaintenanceRow:
    kind: str
    """"" for every kind together."""
    due: int
    on_time: int

    @property
    def execution_pct(self) -> float | None:
        return 100.0 * self.on_time / self.due if self.due else None


@dataclass(frozen=True, slots=True)
class PdcaEffect:
    action: PdcaRecord
    before_from: datetime
    before_to: datetime
    after_from: datetime | None
    after_to: datetime | None
    before: float | None
    after: float | None
    direction: str

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def improved(self) -> bool | None:
        change = self.change
        if change is None:
            return None
        return change > 0 if self.direction == "min" else change < 0


@dataclass(frozen=True, slots=True)
class ReportData:
    kind: str
    period: str
    previous_period: str
    site: str | None
    """None: the whole portfolio."""
    time_zone: str
    start: datetime
    end: datetime
    as_of: datetime
    """The end of what was counted: the period's end, or now for a running period."""
    denominator: str
    devices: int
    reporting_devices: int
    """Of the counted devices, those heard from by the period's end."""
    kpis: list[KpiRow] = field(default_factory=list)
    kinds: list[KindRow] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    top_equipment: list[EquipmentRow] = field(default_factory=list)
    top_faults: list[FaultRow] = field(default_factory=list)
    repeats: list[RepeatRow] = field(default_factory=list)
    yellow_cards: int = 0
    red_cards: int = 0
    chronic: list[tuple[str, str]] = field(default_factory=list)
    scorecards: list[ScorecardRow] = field(default_factory=list)
    overdue: list[OverdueRow] = field(default_factory=list)
    maintenance: list[MaintenanceRow] = field(default_factory=list)
    pdca: list[PdcaEffect] = field(default_factory=list)
    tickets_opened: int = 0

    def kpi(self, code: str) -> KpiRow:
        return next(row for row in self.kpis if row.code == code)

    @property
    def is_empty(self) -> bool:
        """Nothing to report: no device heard from by the period's end, no ticket opened in
        it and none overdue (a ledger imported today says nothing of last week)."""
        return self.reporting_devices == 0 and self.tickets_opened == 0 and not self.overdue
