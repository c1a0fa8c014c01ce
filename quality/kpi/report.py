"""The KPIs of one period read from the stores: what the job writes per bucket and the API
answers on demand, computed by the same code from the same inputs so that both agree.

    inputs = load_inputs(engine, signals, signals, window, repeat_window=timedelta(days=30))
    report = kpi_report(Period(start, end), inputs.only(site="hq"))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contract.clock import to_ms
from quality.kpi.compute import LEDGER, REPORTING_DEVICES, GroupKey, GroupKpis, compute_kpis
from quality.kpi.equipment import LedgerDevice, is_denominator, load_ledger
from quality.kpi.records import LivenessChange, Period, TicketRecord
from quality.kpi.silence import DeviceKey, Interval, SilenceSource, silent_intervals
from quality.kpi.sources import LivenessSource, load_tickets
from quality.maintenance.gate import window_covers
from quality.maintenance.models import MaintenanceWindow


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the KPIs of a window read: tickets, liveness, the ledger, silences."""

    tickets: Sequence[TicketRecord]
    liveness: Sequence[LivenessChange]
    ledger: Sequence[LedgerDevice] = ()
    silences: Mapping[DeviceKey, Sequence[Interval]] = field(default_factory=dict)
    planned: Mapping[DeviceKey, Sequence[Interval]] = field(default_factory=dict)
    """Explicit maintenance windows (保养时段) per device, epoch ms."""

    def only(
        self,
        *,
        site: str | None = None,
        building: str | None = None,
        kind: str | None = None,
        contractor: str | None = None,
    ) -> Inputs:
        """The inputs of one site, building or kind (any combination): every group computed
        from them, a site's included, then covers only what the filter names. The ledger
        stays the denominator even when no ledger device matches. `contractor` keeps the
        tickets dispatched to that contractor (维保单位) only: what its own people see."""

        def keep(item: TicketRecord | LivenessChange | LedgerDevice) -> bool:
            return (
                (site is None or item.site == site)
                and (building is None or item.building == building)
                and (kind is None or item.kind == kind)
            )

        ledger = [d for d in self.ledger if keep(d)]
        return Inputs(
            [
                t
                for t in self.tickets
                if keep(t) and (contractor is None or t.contractor == contractor)
            ],
            [c for c in self.liveness if keep(c)],
            ledger,
            {d.key: self.silences[d.key] for d in ledger if d.key in self.silences},
            {d.key: self.planned[d.key] for d in ledger if d.key in self.planned},
        )


def ledger_silences(
    source: SilenceSource, ledger: Sequence[LedgerDevice], window: Period
) -> dict[DeviceKey, list[Interval]]:
    """Each ledger device's silent intervals in the window, past its reporting interval
    times `SILENCE_FACTOR`; devices without an interval are left to the offline rule."""
    by_limit: dict[int, dict[DeviceKey, str]] = defaultdict(dict)
    for device in ledger:
        limit = device.silence_limit_ms
        if limit is not None and device.answerable_ms(window.start_ms, window.end_ms):
            by_limit[limit][device.key] = device.kind
    silences: dict[DeviceKey, list[Interval]] = {}
    for limit, devices in sorted(by_limit.items()):
        heard = source.heard(devices, window.start_ms, window.end_ms, limit)
        for key, summary in heard.items():
            silences[key] = silent_intervals(summary, window.start_ms, window.end_ms, limit)
    return silences


def load_inputs(
    engine: Engine,
    liveness: LivenessSource,
    silence: SilenceSource | None,
    window: Period,
    *,
    repeat_window: timedelta,
) -> Inputs:
    """Read the window's inputs once; the job computes every bucket of it from them."""
    tickets = load_tickets(engine, window.start, window.end, repeat_window=repeat_window)
    changes = liveness.liveness(window.start_ms, window.end_ms)
    ledger = load_ledger(engine)
    counts = is_denominator(ledger)
    silences = ledger_silences(silence, ledger, window) if counts and silence else {}
    planned = maintenance_windows(engine, window) if counts else {}
    return Inputs(tickets, changes, ledger, silences, planned)


def maintenance_windows(engine: Engine, window: Period) -> dict[DeviceKey, list[Interval]]:
    """The explicit maintenance windows (`POST /api/maintenance/windows`) overlapping the
    window, per device."""
    found: dict[DeviceKey, list[Interval]] = {}
    with Session(engine) as session:
        covers = window_covers(
            session,
            MaintenanceWindow.starts_at < window.end,
            MaintenanceWindow.ends_at > window.start,
        )
    for key, cover in covers:
        if cover.ends_at is not None:
            found.setdefault(key, []).append((to_ms(cover.starts_at), to_ms(cover.ends_at)))
    return found


def denominator_of(inputs: Inputs) -> str:
    """What the integrity rate of these (unfiltered) inputs counts."""
    return LEDGER if is_denominator(inputs.ledger) else REPORTING_DEVICES


@dataclass(frozen=True, slots=True)
class KpiReport:
    period: Period
    denominator: str
    """`ledger`, or `reporting devices` while the ledger holds no confirmed device."""
    groups: list[tuple[GroupKey, GroupKpis]]


def kpi_report(
    period: Period,
    inputs: Inputs,
    *,
    full_ledger: bool | None = None,
    as_of: datetime | None = None,
    repeat_window: timedelta = timedelta(days=30),
) -> KpiReport:
    """Every group's KPIs over the period, in the job's group order.

    `full_ledger` says whether the (unfiltered) ledger is the denominator
    (`is_denominator`); by default, whether `inputs.ledger` is.
    """
    uses_ledger = is_denominator(inputs.ledger) if full_ledger is None else full_ledger
    kpis = compute_kpis(
        period,
        inputs.tickets,
        inputs.liveness,
        ledger=inputs.ledger,
        silences=inputs.silences,
        planned=inputs.planned,
        as_of=as_of,
        repeat_window=repeat_window,
        ledger_mode=uses_ledger,
    )
    return KpiReport(period, LEDGER if uses_ledger else REPORTING_DEVICES, sorted(kpis.items()))
