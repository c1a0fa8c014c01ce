"""The KPI job: compute every KPI per period bucket and write it to the series store.

Buckets are aligned to the epoch (hourly by default), so Grafana's
`GROUP BY time(1h)` meets them exactly. A point's identity is its
measurement, tags and timestamp (the bucket start), so computing a bucket
again overwrites it: the job is idempotent, and a bucket still running is
computed up to now and completed by a later run.

It writes three kinds of points:

- `kpi`, tags `scope`, `site`, `building`, `kind`: one per group and bucket
  (`GroupKpis.fields`);
- `kpi`, tag `scope=service`: dead letters and ingest lag per bucket;
- `ticket_events`, tags `site`, `building`, `kind`, `device_id`,
  `fault_type`, `severity`, `event`: every state change of a ticket, from its
  history, so dashboards can annotate dispatch, rectification and closing.

>>> from datetime import UTC, datetime
>>> [b.start.hour for b in buckets(datetime(2027, 1, 1, 1, 30, tzinfo=UTC),
...                                datetime(2027, 1, 1, 3, 10, tzinfo=UTC), timedelta(hours=1))]
[1, 2, 3]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Engine

from contract.clock import Clock, SystemClock, from_ms, to_ms
from quality.kpi.compute import GroupKpis, compute_kpis
from quality.kpi.planned_work import planned_work
from quality.kpi.records import Period, TicketRecord
from quality.kpi.report import denominator_of, load_inputs
from quality.kpi.silence import SilenceSource
from quality.kpi.sources import (
    InfluxSignals,
    IngestLagSource,
    LivenessSource,
    SQLiteSignals,
    count_dead_letters,
)
from storage.timeseries.base import FieldValue, Point, SeriesStore
from storage.timeseries.sqlite import SQLiteSeriesStore

log = logging.getLogger(__name__)

KPI_MEASUREMENT: Final = "kpi"
TICKET_EVENTS_MEASUREMENT: Final = "ticket_events"
SERVICE_SCOPE: Final = "service"
WRITE_CHUNK: Final = 5_000


def floor_time(moment: datetime, bucket: timedelta) -> datetime:
    """The start of the epoch-aligned bucket holding `moment`."""
    size_ms = int(bucket.total_seconds() * 1000)
    return from_ms(to_ms(moment) // size_ms * size_ms)


def buckets(start: datetime, end: datetime, bucket: timedelta) -> list[Period]:
    """Aligned buckets covering [start, end); the last one is cut at `end`."""
    if bucket <= timedelta(0):
        raise ValueError("bucket must be positive")
    periods: list[Period] = []
    at = floor_time(start, bucket)
    while at < end:
        periods.append(Period(at, min(at + bucket, end)))
        at += bucket
    return periods


def ticket_event_points(tickets: Sequence[TicketRecord], period: Period) -> list[Point]:
    """One `ticket_events` point per state change in the period (escalations excluded)."""
    points = []
    for ticket in tickets:
        for move in ticket.history:
            at_ms = to_ms(move.at)
            if move.to_state == move.from_state or not period.start_ms <= at_ms < period.end_ms:
                continue
            text = f"ticket {ticket.id} {ticket.fault_type}: {move.from_state or 'new'} -> "
            points.append(
                Point(
                    TICKET_EVENTS_MEASUREMENT,
                    {
                        "site": ticket.site,
                        "building": ticket.building,
                        "kind": ticket.kind,
                        "device_id": ticket.device_id,
                        "fault_type": ticket.fault_type,
                        "severity": ticket.severity,
                        "event": move.to_state,
                    },
                    {
                        "ticket_id": ticket.id,
                        "from_state": move.from_state or "",
                        "to_state": move.to_state,
                        "text": text + move.to_state,
                    },
                    at_ms,
                )
            )
    return points


@dataclass(frozen=True, slots=True)
class KpiRun:
    """What one run wrote."""

    buckets: int
    kpi_points: int
    ticket_event_points: int


class KpiJob:
    """Computes and writes the KPIs for the buckets of a time range, clipped at now."""

    def __init__(
        self,
        engine: Engine,
        series: SeriesStore,
        liveness: LivenessSource,
        *,
        lag: IngestLagSource | None = None,
        silence: SilenceSource | None = None,
        bucket: timedelta = timedelta(hours=1),
        repeat_window: timedelta = timedelta(days=30),
        clock: Clock | None = None,
    ) -> None:
        if bucket <= timedelta(0):
            raise ValueError("bucket must be positive")
        if isinstance(series, SQLiteSeriesStore):
            raise ValueError(
                "the embedded SQLite series store keeps one point per measurement, device and "
                "time, so the KPI groups of a bucket would overwrite each other: KPIs need "
                "InfluxDB (FACMON_INFLUX_URL)"
            )
        self.engine = engine
        self.series = series
        self.liveness = liveness
        self.lag = lag
        # the readers of both series stores answer silences too
        self.silence: SilenceSource | None = silence or (
            liveness if isinstance(liveness, InfluxSignals | SQLiteSignals) else None
        )
        self.bucket = bucket
        self.repeat_window = repeat_window
        self.clock: Clock = clock or SystemClock()

    def points(self, start: datetime, end: datetime) -> tuple[list[Period], list[Point]]:
        """The buckets of [start, min(end, now)) and every point they produce."""
        as_of = self.clock.now().astimezone(UTC)
        periods = buckets(start, min(end, as_of), self.bucket) if start < as_of else []
        if not periods:
            return [], []
        window = Period(periods[0].start, periods[-1].end)
        inputs = load_inputs(
            self.engine, self.liveness, self.silence, window, repeat_window=self.repeat_window
        )
        tickets = inputs.tickets
        points: list[Point] = []
        for period in periods:
            kpis = compute_kpis(
                period,
                tickets,
                inputs.liveness,
                ledger=inputs.ledger,
                silences=inputs.silences,
                planned=inputs.planned,
                as_of=as_of,
                repeat_window=self.repeat_window,
            )
            sites = {key.site for key in kpis} | {device.site for device in inputs.ledger}
            planned = planned_work(self.engine, period, as_of=as_of, sites=sites)
            groups = {key: values.fields() for key, values in kpis.items()}
            for key, work in planned.items():
                groups[key] = {**groups.get(key, GroupKpis(denominator_of(inputs)).fields())}
                groups[key] |= work.fields()
            points += [
                Point(KPI_MEASUREMENT, key.tags(), fields, period.start_ms)
                for key, fields in sorted(groups.items())
            ]
            points.append(self._service_point(period))
        points += ticket_event_points(tickets, window)
        return periods, points

    def _service_point(self, period: Period) -> Point:
        fields: dict[str, FieldValue] = {
            "dead_letters": count_dead_letters(self.engine, period.start, period.end)
        }
        lag = self.lag.ingest_lag(period.start_ms, period.end_ms) if self.lag else None
        if lag is not None:
            fields |= {"ingest_lag_max_s": lag.max_s, "ingest_lag_mean_s": lag.mean_s}
        return Point(KPI_MEASUREMENT, {"scope": SERVICE_SCOPE}, fields, period.start_ms)

    def run(self, start: datetime, end: datetime) -> KpiRun:
        """Compute the buckets of [start, end) and write them; raises if the store is down."""
        periods, points = self.points(start, end)
        for offset in range(0, len(points), WRITE_CHUNK):
            self.series.write(points[offset : offset + WRITE_CHUNK])
        events = sum(p.measurement == TICKET_EVENTS_MEASUREMENT for p in points)
        run = KpiRun(len(periods), len(points) - events, events)
        if periods:
            log.debug(
                "KPIs for %s .. %s: %d buckets, %d points, %d ticket events",
                periods[0].start.isoformat(),
                periods[-1].end.isoformat(),
                run.buckets,
                run.kpi_points,
                run.ticket_event_points,
            )
        return run
