"""The quality-loop KPIs over one period, per site, building and kind: pure functions.

Every result is kept as additive parts (device-seconds, counts, summed
durations) next to the ratio they make, so that Grafana can re-aggregate
buckets and groups correctly: `sum(good_s) / sum(observed_s)` over a day is
the day's integrity, whereas the mean of 24 hourly ratios is not. The
definitions are in the README's "KPIs" section and on each function below.

>>> from datetime import UTC, datetime
>>> t0 = datetime(2027, 1, 1, tzinfo=UTC)
>>> period = Period(t0, datetime(2027, 1, 1, 1, tzinfo=UTC))
>>> pump = LivenessChange("p1", "hq", "plant", "pump", period.start_ms - 1, True)
>>> kpis = compute_kpis(period, tickets=[], liveness=[pump])
>>> kpis[GroupKey("site", "hq")].integrity_pct
100.0
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from contract.clock import to_ms
from quality.kpi.equipment import LedgerDevice, is_denominator
from quality.kpi.records import (
    IMPAIRING_SEVERITIES,
    UNRESOLVED_STATES,
    LivenessChange,
    Period,
    TicketRecord,
)
from quality.maintenance.models import MAINTENANCE_FAULT
from storage.timeseries.base import FieldValue

SCOPES: Final = ("site", "building", "kind", "building_kind")
"""Each device and ticket counts in one group of every scope.

`site`: per site; `building`: per site and building; `kind`: per site and
kind; `building_kind`: per site, building and kind, the finest, which the
dashboards sum up so that all three filters apply at once.
"""

LEDGER: Final = "ledger"
REPORTING_DEVICES: Final = "reporting devices"
"""The integrity rate's denominator: the ledger's equipment, or (with an empty ledger)
the devices that have reported."""

SEVERITY_FIELDS: Final = {"critical": "open_critical", "major": "open_major", "minor": "open_minor"}

Interval = tuple[int, int]

_TAG_KEYS: Final = ("scope", "site", "building", "kind")


@dataclass(frozen=True, slots=True, order=True)
class GroupKey:
    """One row of KPIs: a scope and the tags that define its group ("" = not grouped by)."""

    scope: str
    site: str
    building: str = ""
    kind: str = ""

    def tags(self) -> dict[str, str]:
        values = (self.scope, self.site, self.building, self.kind)
        return {key: value for key, value in zip(_TAG_KEYS, values, strict=True) if value}


def group_keys(site: str, building: str, kind: str) -> tuple[GroupKey, ...]:
    """The group of every scope that a device or ticket at this place belongs to."""
    return (
        GroupKey("site", site),
        GroupKey("building", site, building=building),
        GroupKey("kind", site, kind=kind),
        GroupKey("building_kind", site, building, kind),
    )


@dataclass(slots=True)
class GroupKpis:
    """Additive parts of every KPI for one group and period; ratios are properties."""

    denominator: str = REPORTING_DEVICES
    devices: int = 0
    never_reported: int = 0
    observed_s: float = 0.0
    maintenance_s: float = 0.0
    online_s: float = 0.0
    good_s: float = 0.0
    opened: int = 0
    findings: int = 0
    failures: int = 0
    repeats: int = 0
    completion_base: int = 0
    completed: int = 0
    rectified: int = 0
    rectified_on_time: int = 0
    repair_s: float = 0.0
    acknowledged: int = 0
    response_s: float = 0.0
    closed_out: int = 0
    first_time_fixes: int = 0
    open_critical: int = 0
    open_major: int = 0
    open_minor: int = 0
    sla_dispatch_breaches: int = 0
    sla_rectify_breaches: int = 0
    chronic: set[tuple[str, str]] = field(default_factory=set)  # (site, device_id)

    @property
    def integrity_pct(self) -> float | None:
        """Equipment integrity rate: share of observed device-time in good condition."""
        return 100.0 * self.good_s / self.observed_s if self.observed_s > 0 else None

    @property
    def timeliness_pct(self) -> float | None:
        """Repair timeliness: share of rectifications made by the rectify deadline."""
        return 100.0 * self.rectified_on_time / self.rectified if self.rectified else None

    @property
    def completion_pct(self) -> float | None:
        """Rectification completion: share of the period's tickets rectified (dismissals aside)."""
        return 100.0 * self.completed / self.completion_base if self.completion_base else None

    @property
    def mttr_s(self) -> float | None:
        """Mean time to repair: opening to rectification, over the period's rectifications."""
        return self.repair_s / self.rectified if self.rectified else None

    @property
    def response_time_s(self) -> float | None:
        """Response time (响应时间): dispatch to acknowledgement (接单), over the period's
        acknowledgements; a rectification without one acknowledges implicitly."""
        return self.response_s / self.acknowledged if self.acknowledged else None

    @property
    def first_time_fix_pct(self) -> float | None:
        """First-time fix rate (一次性修复成功率): the period's close-outs never reopened."""
        return 100.0 * self.first_time_fixes / self.closed_out if self.closed_out else None

    @property
    def mtbf_s(self) -> float | None:
        """Mean time between failures: online device-time per major-or-worse ticket opened."""
        return self.online_s / self.failures if self.failures and self.observed_s > 0 else None

    @property
    def repeat_pct(self) -> float | None:
        """Repeat-fault rate: share of the period's tickets that repeat a recent fault."""
        return 100.0 * self.repeats / self.opened if self.opened else None

    @property
    def open_total(self) -> int:
        return self.open_critical + self.open_major + self.open_minor

    def fields(self) -> dict[str, FieldValue]:
        """InfluxDB fields: counts as integers, times and shares as floats, always.

        A ratio's parts are written only when its denominator is not zero,
        because InfluxQL answers `0 / 0` with 0, which a chart would show as
        "0 % integrity". Levels and event counts are always written.
        """
        out: dict[str, FieldValue] = {
            "denominator": self.denominator,
            "devices": self.devices,
            "findings": self.findings,
            "open_critical": self.open_critical,
            "open_major": self.open_major,
            "open_minor": self.open_minor,
            "open_total": self.open_total,
            "sla_dispatch_breaches": self.sla_dispatch_breaches,
            "sla_rectify_breaches": self.sla_rectify_breaches,
            "sla_breaches": self.sla_dispatch_breaches + self.sla_rectify_breaches,
            "chronic_devices": len(self.chronic),
        }
        if self.denominator == LEDGER:
            out |= {
                "never_reported": self.never_reported,
                "maintenance_s": float(self.maintenance_s),
            }
        if self.observed_s > 0:
            out |= {
                "observed_s": float(self.observed_s),
                "online_s": float(self.online_s),
                "good_s": float(self.good_s),
            }
        if self.opened:
            out |= {"opened": self.opened, "repeats": self.repeats}
        if self.completion_base:
            out |= {"completion_base": self.completion_base, "completed": self.completed}
        if self.rectified:
            out |= {
                "rectified": self.rectified,
                "rectified_on_time": self.rectified_on_time,
                "repair_s": float(self.repair_s),
            }
        if self.acknowledged:
            out |= {"acknowledged": self.acknowledged, "response_s": float(self.response_s)}
        if self.closed_out:
            out |= {"closed_out": self.closed_out, "first_time_fixes": self.first_time_fixes}
        if self.failures:
            out["failures"] = self.failures
        ratios = {
            "integrity_pct": self.integrity_pct,
            "timeliness_pct": self.timeliness_pct,
            "completion_pct": self.completion_pct,
            "mttr_s": self.mttr_s,
            "response_time_s": self.response_time_s,
            "first_time_fix_pct": self.first_time_fix_pct,
            "mtbf_s": self.mtbf_s,
            "repeat_pct": self.repeat_pct,
        }
        out |= {name: float(value) for name, value in ratios.items() if value is not None}
        return out


# -- intervals (epoch ms, half-open) -----------------------------------------------------


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clip(intervals: Iterable[Interval], lo: int, hi: int) -> list[Interval]:
    return [(max(s, lo), min(e, hi)) for s, e in intervals if max(s, lo) < min(e, hi)]


def _subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The parts of union `a` outside union `b` (both sorted, non-overlapping)."""
    out: list[Interval] = []
    for start, end in a:
        at = start
        for lo, hi in b:
            if hi <= at or lo >= end:
                continue
            if lo > at:
                out.append((at, lo))
            at = max(at, hi)
        if at < end:
            out.append((at, end))
    return out


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The intersection of two unions (each sorted, non-overlapping)."""
    return [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b if max(s1, s2) < min(e1, e2)]


def _length(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> int:
    """Total length of the intersection of two unions (each sorted, non-overlapping)."""
    total = i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, hi - lo)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


_FOREVER: Final = 2**62


def unresolved_intervals(ticket: TicketRecord) -> list[Interval]:
    """When the ticket was unresolved (open, dispatched, rectified or reopened), in ms.

    A ticket still unresolved today has an interval without end.
    """
    intervals: list[Interval] = []
    since: int | None = None
    for at, state in ticket.moves():
        if state in UNRESOLVED_STATES and since is None:
            since = at
        elif state not in UNRESOLVED_STATES and since is not None:
            intervals.append((since, at))
            since = None
    if since is not None:
        intervals.append((since, _FOREVER))
    return intervals


def _state_before(moves: Sequence[tuple[int, str]], moment_ms: int) -> str | None:
    """The state just before `moment_ms` (moves at that very instant not yet made)."""
    state = None
    for at, to_state in moves:
        if at >= moment_ms:
            break
        state = to_state
    return state


# -- equipment integrity -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceTime:
    """One device's time in a period, in seconds: observed, online, in good condition."""

    observed_s: float
    online_s: float
    good_s: float


def online_intervals(
    period: Period, changes: Sequence[LivenessChange]
) -> tuple[Interval | None, list[Interval]]:
    """(observed interval, online intervals) of one device within the period, in ms.

    The device's state at the period start is its last change at or before it.
    A device with no change before the period appears at its first change in
    it and is observed only from then; one with no change at all up to the
    period end is not observed.
    """
    start, end = period.start_ms, period.end_ms
    ordered = sorted(changes, key=lambda c: c.ts_ms)
    before = [c for c in ordered if c.ts_ms <= start]
    within = [c for c in ordered if start < c.ts_ms < end]
    if before:
        observed_from, online = start, before[-1].online
    elif within:
        observed_from, online = within[0].ts_ms, within[0].online
        within = within[1:]
    else:
        return None, []
    intervals: list[Interval] = []
    since = observed_from if online else None
    for change in within:
        if change.online and since is None:
            since = change.ts_ms
        elif not change.online and since is not None:
            intervals.append((since, change.ts_ms))
            since = None
    if since is not None:
        intervals.append((since, end))
    return (observed_from, end), intervals


def device_time(
    period: Period, changes: Sequence[LivenessChange], tickets: Iterable[TicketRecord]
) -> DeviceTime | None:
    """Time-weighted condition of one device; None when it was not observed in the period.

    In good condition at time t: its latest status is online, and no ticket of
    severity major or critical for it is unresolved at t. Tickets are clipped
    to the period, and to the device's first appearance.
    """
    observed, online = online_intervals(period, changes)
    if observed is None:
        return None
    impaired = _union(
        interval
        for ticket in tickets
        if ticket.severity in IMPAIRING_SEVERITIES
        for interval in _clip(unresolved_intervals(ticket), *observed)
    )
    online_ms = _length(online)
    good_ms = online_ms - _overlap(online, impaired)
    return DeviceTime((observed[1] - observed[0]) / 1000, online_ms / 1000, good_ms / 1000)


@dataclass(frozen=True, slots=True)
class LedgerTime:
    """One ledger device's time in a period, in seconds."""

    observed_s: float
    """Answerable time: in service, outside a maintenance."""
    online_s: float
    good_s: float
    maintenance_s: float
    reported: bool
    """Whether it had reported by the period's end."""


def ledger_device_time(
    period: Period,
    device: LedgerDevice,
    changes: Sequence[LivenessChange],
    tickets: Iterable[TicketRecord],
    silent: Sequence[Interval] = (),
    planned: Sequence[Interval] = (),
) -> LedgerTime | None:
    """Time-weighted condition of one ledger device; None when it does not count at all.

    Intact at time t: it has reported, its latest status is online, it has not been silent
    past its ledger interval (`silent`), and no ticket of severity major or critical for it
    is unresolved at t. Before its first report it is not intact: a device that never
    reported is answerable for the whole period and intact for none of it. Planned
    maintenance (`planned`, and the ledger's `under_maintenance` status) is left out of
    both sides and reported as maintenance time.
    """
    start, end = period.start_ms, period.end_ms
    in_service = device.answerable_ms(start, end)
    maintenance = _union(_clip(planned, start, end))
    if device.status == "under_maintenance":
        maintenance = _union([*maintenance, (max(start, to_ms(device.status_since)), end)])
    answerable = _subtract(in_service, maintenance)
    maintenance_ms = _length(_clip(maintenance, start, end))
    if not answerable:
        if maintenance_ms <= 0:
            return None
        return LedgerTime(0.0, 0.0, 0.0, maintenance_ms / 1000, bool(changes))
    _, online_all = online_intervals(period, changes)
    online = _intersect(_union(online_all), answerable)
    impaired = _union(
        [
            *(
                interval
                for ticket in tickets
                if ticket.severity in IMPAIRING_SEVERITIES
                for interval in unresolved_intervals(ticket)
            ),
            *silent,
        ]
    )
    online_ms = _length(online)
    good_ms = online_ms - _overlap(online, impaired)
    return LedgerTime(
        _length(answerable) / 1000,
        online_ms / 1000,
        good_ms / 1000,
        maintenance_ms / 1000,
        bool(changes),
    )


def planned_maintenance(ticket: TicketRecord) -> list[Interval]:
    """When a planned-maintenance work order had its device in hand: from each dispatch
    until the re-check (verified) or close; still running today means without end."""
    intervals: list[Interval] = []
    since: int | None = None
    for at, state in ticket.moves():
        if state == "dispatched" and since is None:
            since = at
        elif state in ("verified", "closed") and since is not None:
            intervals.append((since, at))
            since = None
    if since is not None:
        intervals.append((since, _FOREVER))
    return intervals


# -- all KPIs ----------------------------------------------------------------------------


def _responses(moves: Sequence[tuple[int, str]]) -> list[tuple[int, int]]:
    """(acknowledged at, ms since the dispatch) for every acknowledgement in `moves`; going
    from dispatched straight to rectified acknowledges implicitly at the rectification."""
    found: list[tuple[int, int]] = []
    dispatched: int | None = None
    for at, state in moves:
        if state == "dispatched":
            dispatched = at
        elif state in ("acknowledged", "rectified") and dispatched is not None:
            found.append((at, at - dispatched))
            dispatched = None
        else:
            dispatched = None
    return found


def _first_close_out(moves: Sequence[tuple[int, str]], start: int, end: int) -> int | None:
    """When the ticket was first closed out (销项: closed after its re-check) in [start,
    end); closing without a re-check is a dismissal, not a fix."""
    previous = None
    for at, state in moves:
        if state == "closed" and previous == "verified" and start <= at < end:
            return at
        previous = state
    return None


def _add_ticket(
    kpis: GroupKpis,
    ticket: TicketRecord,
    period: Period,
    as_of_ms: int,
    chronic_since_ms: int,
) -> bool:
    """Add one ticket's contributions to a group; False when it contributes nothing."""
    start, end = period.start_ms, period.end_ms
    opened_ms = to_ms(ticket.opened_at)
    moves = ticket.moves()
    touched = False
    if start <= opened_ms < end:
        touched = True
        kpis.opened += 1
        kpis.findings += 1
        kpis.failures += ticket.severity in IMPAIRING_SEVERITIES
        kpis.repeats += ticket.repeat_count > 1 and not ticket.false_alarm
        known = [(at, state) for at, state in moves if at <= as_of_ms]
        ever_rectified = any(state == "rectified" for _, state in known)
        last = known[-1][1] if known else "open"
        if ever_rectified and last in ("rectified", "verified", "closed"):
            kpis.completion_base += 1
            kpis.completed += 1
        elif last != "closed":  # closed without a rectification: dismissed as false
            kpis.completion_base += 1
    occurrences = sum(start <= to_ms(at) < end for at in ticket.occurrences)
    if occurrences:
        touched = True
        kpis.findings += occurrences
    rectifications = [at for at, state in moves if state == "rectified" and start <= at < end]
    if rectifications:
        touched = True
        kpis.rectified += 1
        kpis.rectified_on_time += rectifications[0] <= to_ms(ticket.rectify_due_at)
        kpis.repair_s += (rectifications[0] - opened_ms) / 1000
    if _first_close_out(moves, start, min(end, as_of_ms + 1)) is not None:
        touched = True
        kpis.closed_out += 1
        kpis.first_time_fixes += not any(
            state == "reopened" for at, state in moves if at <= as_of_ms
        )
    for acknowledged_ms, response_ms in _responses(moves):
        if start <= acknowledged_ms < end:
            touched = True
            kpis.acknowledged += 1
            kpis.response_s += response_ms / 1000
    if opened_ms < end and _state_before(moves, end) in UNRESOLVED_STATES:
        touched = True
        severity_field = SEVERITY_FIELDS.get(ticket.severity, "open_major")
        setattr(kpis, severity_field, getattr(kpis, severity_field) + 1)
    if ticket.dispatch_breached and start <= to_ms(ticket.dispatch_due_at) < end:
        touched = True
        kpis.sla_dispatch_breaches += 1
    if ticket.rectify_breached and start <= to_ms(ticket.rectify_due_at) < end:
        touched = True
        kpis.sla_rectify_breaches += 1
    if ticket.card == "red" and chronic_since_ms <= opened_ms < end:
        touched = True
        kpis.chronic.add((ticket.site, ticket.device_id))
    return touched


def compute_kpis(
    period: Period,
    tickets: Iterable[TicketRecord],
    liveness: Iterable[LivenessChange],
    *,
    ledger: Sequence[LedgerDevice] = (),
    silences: Mapping[tuple[str, str], Sequence[Interval]] | None = None,
    planned: Mapping[tuple[str, str], Sequence[Interval]] | None = None,
    as_of: datetime | None = None,
    repeat_window: timedelta = timedelta(days=30),
    ledger_mode: bool | None = None,
) -> dict[GroupKey, GroupKpis]:
    """Every KPI of every group that has an answerable device or a ticket event in the period.

    With a `ledger` (of confirmed devices), the integrity rate's denominator is its equipment (see
    `ledger_device_time`; `silences` are each device's silent intervals past its reporting
    interval, epoch ms, any span; `planned` their planned-maintenance windows); with none,
    the devices that have reported.
    `ledger_mode` overrides that choice: a ledger filtered to one site may hold none of a
    site's devices and still be the denominator (default: whether `ledger` holds a device
    that is not pending, see `is_denominator`).

    `tickets` and `liveness` may cover more than the period; only what
    falls in it (and, for states, before it) counts. `as_of` (default: the
    period end) is when rectification completion is judged: a ticket opened
    in the period counts as completed if it has been rectified by then and
    not reopened since.
    """
    as_of_ms = to_ms(as_of) if as_of is not None else period.end_ms
    chronic_since_ms = to_ms(period.end - repeat_window)
    tickets = list(tickets)
    # a device is (site, device_id): door-1 of two sites is two devices
    by_device: dict[tuple[str, str], list[LivenessChange]] = defaultdict(list)
    for change in liveness:
        if change.ts_ms < period.end_ms:
            by_device[(change.site, change.device_id)].append(change)
    tickets_by_device: dict[tuple[str, str], list[TicketRecord]] = defaultdict(list)
    for ticket in tickets:
        tickets_by_device[(ticket.site, ticket.device_id)].append(ticket)

    uses_ledger = is_denominator(ledger) if ledger_mode is None else ledger_mode
    denominator = LEDGER if uses_ledger else REPORTING_DEVICES
    results: dict[GroupKey, GroupKpis] = defaultdict(lambda: GroupKpis(denominator))
    if uses_ledger:
        silent = silences or {}
        windows: dict[tuple[str, str], list[Interval]] = {
            device_key: list(intervals) for device_key, intervals in (planned or {}).items()
        }
        for ticket in tickets:
            if ticket.fault_type == MAINTENANCE_FAULT:
                windows.setdefault((ticket.site, ticket.device_id), []).extend(
                    planned_maintenance(ticket)
                )
        for device in ledger:
            counted = ledger_device_time(
                period,
                device,
                by_device.get(device.key, ()),
                tickets_by_device.get(device.key, ()),
                silent.get(device.key, ()),
                windows.get(device.key, ()),
            )
            if counted is None:
                continue
            for key in group_keys(device.site, device.building, device.kind):
                kpis = results[key]
                kpis.maintenance_s += counted.maintenance_s
                if counted.observed_s > 0:
                    kpis.devices += 1
                    kpis.never_reported += not counted.reported
                    kpis.observed_s += counted.observed_s
                    kpis.online_s += counted.online_s
                    kpis.good_s += counted.good_s
    else:
        for device_key, changes in by_device.items():
            time = device_time(period, changes, tickets_by_device.get(device_key, ()))
            if time is None:
                continue
            latest = max(changes, key=lambda c: c.ts_ms)  # where the device is now
            for key in group_keys(latest.site, latest.building, latest.kind):
                kpis = results[key]
                kpis.devices += 1
                kpis.observed_s += time.observed_s
                kpis.online_s += time.online_s
                kpis.good_s += time.good_s
    for ticket in tickets:
        for key in group_keys(ticket.site, ticket.building, ticket.kind):
            kpis = results.get(key) or GroupKpis(denominator)
            if _add_ticket(kpis, ticket, period, as_of_ms, chronic_since_ms):
                results[key] = kpis
    return dict(results)
