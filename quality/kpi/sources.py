"""Where the KPI job reads its inputs: the ticket tables, dead letters, and the series store.

Liveness history and ingest lag come from the time-series store behind two
small protocols, so the computations read the same from InfluxDB, from the
embedded SQLite store, and from a history a test writes by hand
(`ListLiveness`). (Writing KPIs needs InfluxDB: see `KpiJob`.)

>>> source = ListLiveness([LivenessChange("p1", "hq", "plant", "pump", 5, True)])
>>> [c.ts_ms for c in source.liveness(10, 20)], source.liveness(0, 5)
([5], [])
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import Session

from quality.i18n.summaries import summary_labels
from quality.kpi.records import UNRESOLVED_STATES, LivenessChange, TicketRecord, Transition
from quality.kpi.silence import NEVER_HEARD, DeviceKey, Heard
from quality.tickets.models import Ticket, TicketHistory, TicketOccurrence, aware
from storage.dead_letters import DeadLetter
from storage.timeseries.base import SeriesStore
from storage.timeseries.influx import InfluxStore, quote_ident
from storage.timeseries.sqlite import SQLiteSeriesStore

STATUS_MEASUREMENT = "device_status"
SERVICE_MEASUREMENT = "facmon_service"
LAG_FIELD = "ingest_lag_seconds"
"""The `facmon_ingest_lag_seconds` gauge as `ServiceMetricsWriter` stores it."""


class LivenessSource(Protocol):
    def liveness(self, start_ms: int, end_ms: int) -> list[LivenessChange]:
        """Each device's last change before `start_ms`, then every change in [start, end)."""
        ...


@dataclass(frozen=True, slots=True)
class LagStats:
    max_s: float
    mean_s: float


class IngestLagSource(Protocol):
    def ingest_lag(self, start_ms: int, end_ms: int) -> LagStats | None:
        """Ingest lag over [start, end) from the service's own metric; None if not recorded."""
        ...


class ListLiveness:
    """A liveness history held in memory: for tests and replays."""

    def __init__(self, changes: Iterable[LivenessChange]) -> None:
        self.changes = sorted(changes, key=lambda c: c.ts_ms)

    def liveness(self, start_ms: int, end_ms: int) -> list[LivenessChange]:
        last_before: dict[tuple[str, str], LivenessChange] = {}
        for change in self.changes:
            if change.ts_ms < start_ms:
                last_before[(change.site, change.device_id)] = change
        within = [c for c in self.changes if start_ms <= c.ts_ms < end_ms]
        return [*last_before.values(), *within]


def _change(device_id: str, tags: dict[str, str], ts_ms: int, online: object) -> LivenessChange:
    return LivenessChange(
        device_id=device_id,
        site=tags.get("site", ""),
        building=tags.get("building", ""),
        kind=tags.get("kind", ""),
        ts_ms=int(ts_ms),
        online=bool(online),
    )


class InfluxSignals:
    """Liveness (`device_status`) and ingest lag (`facmon_service`) from InfluxDB."""

    _GROUP = 'GROUP BY "device_id", "site", "building", "kind"'

    def __init__(self, store: InfluxStore) -> None:
        self.store = store

    def _changes(self, query: str) -> list[LivenessChange]:
        changes = []
        for series in self.store.query(query):
            tags: dict[str, str] = series.get("tags", {})
            for ts_ms, online in series["values"]:
                if online is not None:
                    changes.append(_change(tags.get("device_id", ""), tags, ts_ms, online))
        return changes

    def liveness(self, start_ms: int, end_ms: int) -> list[LivenessChange]:
        before = self._changes(
            f'SELECT last("online") FROM "{STATUS_MEASUREMENT}" '
            f"WHERE time < {int(start_ms)}ms {self._GROUP}"
        )
        within = self._changes(
            f'SELECT "online" FROM "{STATUS_MEASUREMENT}" '
            f"WHERE time >= {int(start_ms)}ms AND time < {int(end_ms)}ms {self._GROUP}"
        )
        return before + within

    def ingest_lag(self, start_ms: int, end_ms: int) -> LagStats | None:
        series = self.store.query(
            f'SELECT max("{LAG_FIELD}"), mean("{LAG_FIELD}") FROM "{SERVICE_MEASUREMENT}" '
            f"WHERE time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"
        )
        if not series or not series[0].get("values"):
            return None
        _, maximum, mean = series[0]["values"][0]
        if maximum is None or mean is None:
            return None
        return LagStats(float(maximum), float(mean))

    def _times(self, query: str) -> dict[DeviceKey, list[list[Any]]]:
        found: dict[DeviceKey, list[list[Any]]] = {}
        for series in self.store.query(query):
            tags: dict[str, str] = series.get("tags", {})
            key = (tags.get("site", ""), tags.get("device_id", ""))
            found.setdefault(key, []).extend(series["values"])
        return found

    def heard(
        self, devices: Mapping[DeviceKey, str], start_ms: int, end_ms: int, min_gap_ms: int
    ) -> dict[DeviceKey, Heard]:
        """Per kind: the last sample before, the first and last in the period, and the
        gaps over `min_gap_ms` (`elapsed` in a subquery, filtered by InfluxDB)."""
        result: dict[DeviceKey, Heard] = {}
        start, end, gap = int(start_ms), int(end_ms), int(min_gap_ms)
        group = 'GROUP BY "site", "device_id"'
        for kind in sorted(set(devices.values())):
            table = quote_ident(kind)
            within = f"time >= {start}ms AND time < {end}ms"
            before = self._times(
                f'SELECT last("seq") FROM {table} '
                f"WHERE time >= {start - gap}ms AND time < {start}ms {group}"
            )
            first = self._times(f'SELECT first("seq") FROM {table} WHERE {within} {group}')
            last = self._times(f'SELECT last("seq") FROM {table} WHERE {within} {group}')
            gaps = self._times(
                f'SELECT "gap" FROM (SELECT elapsed("seq", 1ms) AS "gap" FROM {table} '
                f'WHERE {within} {group}) WHERE "gap" > {gap} {group}'
            )
            for key, device_kind in devices.items():
                if device_kind != kind:
                    continue
                result[key] = Heard(
                    _first_time(before.get(key)),
                    _first_time(first.get(key)),
                    _first_time(last.get(key)),
                    tuple((int(at), int(ms)) for at, ms in gaps.get(key, ())),
                )
        return {key: result.get(key, NEVER_HEARD) for key in devices}

    def close(self) -> None:
        """Nothing of its own to release: the store belongs to the service."""


class SQLiteSignals:
    """The same reads from the embedded SQLite series store, on a connection of its own."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def liveness(self, start_ms: int, end_ms: int) -> list[LivenessChange]:
        before = self._rows(
            "SELECT p.device_id, p.ts_ms, p.tags, p.fields FROM points p JOIN ("
            "  SELECT site, device_id, MAX(ts_ms) AS ts FROM points"
            "  WHERE measurement = ? AND ts_ms < ? GROUP BY site, device_id"
            ") last ON p.site = last.site AND p.device_id = last.device_id AND p.ts_ms = last.ts "
            "WHERE p.measurement = ?",
            (STATUS_MEASUREMENT, start_ms, STATUS_MEASUREMENT),
        )
        within = self._rows(
            "SELECT device_id, ts_ms, tags, fields FROM points "
            "WHERE measurement = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            (STATUS_MEASUREMENT, start_ms, end_ms),
        )
        return [
            _change(device_id, json.loads(tags), ts_ms, json.loads(fields).get("online"))
            for device_id, ts_ms, tags, fields in [*before, *within]
        ]

    def ingest_lag(self, start_ms: int, end_ms: int) -> LagStats | None:
        path = f"$.{LAG_FIELD}"
        ((maximum, mean),) = self._rows(
            "SELECT MAX(json_extract(fields, ?)), AVG(json_extract(fields, ?)) FROM points "
            "WHERE measurement = ? AND ts_ms >= ? AND ts_ms < ?",
            (path, path, SERVICE_MEASUREMENT, start_ms, end_ms),
        )
        return None if maximum is None else LagStats(float(maximum), float(mean))

    def heard(
        self, devices: Mapping[DeviceKey, str], start_ms: int, end_ms: int, min_gap_ms: int
    ) -> dict[DeviceKey, Heard]:
        """The same as `InfluxSignals.heard`, with a window function for the gaps."""
        result: dict[DeviceKey, Heard] = {}
        for kind in sorted(set(devices.values())):
            before = {
                (site, device_id): ts
                for site, device_id, ts in self._rows(
                    "SELECT site, device_id, MAX(ts_ms) FROM points WHERE measurement = ? "
                    "AND ts_ms >= ? AND ts_ms < ? GROUP BY site, device_id",
                    (kind, start_ms - min_gap_ms, start_ms),
                )
            }
            span = {
                (site, device_id): (first, last)
                for site, device_id, first, last in self._rows(
                    "SELECT site, device_id, MIN(ts_ms), MAX(ts_ms) FROM points "
                    "WHERE measurement = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY site, device_id",
                    (kind, start_ms, end_ms),
                )
            }
            gaps: dict[DeviceKey, list[tuple[int, int]]] = {}
            for site, device_id, ts, gap in self._rows(
                "SELECT site, device_id, ts_ms, gap FROM (SELECT site, device_id, ts_ms, "
                "ts_ms - LAG(ts_ms) OVER (PARTITION BY site, device_id ORDER BY ts_ms) AS gap "
                "FROM points WHERE measurement = ? AND ts_ms >= ? AND ts_ms < ?) "
                "WHERE gap > ? ORDER BY ts_ms",
                (kind, start_ms, end_ms, min_gap_ms),
            ):
                gaps.setdefault((site, device_id), []).append((int(ts), int(gap)))
            for key, device_kind in devices.items():
                if device_kind == kind:
                    first, last = span.get(key, (None, None))
                    result[key] = Heard(before.get(key), first, last, tuple(gaps.get(key, ())))
        return {key: result.get(key, NEVER_HEARD) for key in devices}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _first_time(rows: list[list[Any]] | None) -> int | None:
    """The time of the first row of a selector's answer (`last`, `first`), if any."""
    return int(rows[0][0]) if rows else None


def signals_for(store: SeriesStore) -> InfluxSignals | SQLiteSignals:
    """The liveness and lag reader that matches the service's series store."""
    if isinstance(store, InfluxStore):
        return InfluxSignals(store)
    if isinstance(store, SQLiteSeriesStore):
        return SQLiteSignals(store.path)
    raise TypeError(f"no KPI reader for {type(store).__name__}")


# -- SQL ---------------------------------------------------------------------------------


def _required(moment: datetime | None) -> datetime:
    value = aware(moment)
    assert value is not None
    return value


def load_tickets(
    engine: Engine, start: datetime, end: datetime, *, repeat_window: timedelta
) -> list[TicketRecord]:
    """Tickets that can count in any period within [start, end), with history and occurrences.

    That is every ticket opened before `end` that is still unresolved, or
    changed since `start` (which covers openings, moves, breaches and
    occurrences in the window), or carries a red card recent enough to be
    chronic.
    """
    with Session(engine) as session:
        tickets = session.scalars(
            select(Ticket).where(
                Ticket.opened_at < end,
                or_(
                    Ticket.state.in_(sorted(UNRESOLVED_STATES)),
                    Ticket.updated_at >= start,
                    and_(Ticket.card == "red", Ticket.opened_at >= start - repeat_window),
                ),
            )
        ).all()
        ids = [ticket.id for ticket in tickets]
        history: dict[int, list[Transition]] = {ticket_id: [] for ticket_id in ids}
        occurrences: dict[int, list[datetime]] = {ticket_id: [] for ticket_id in ids}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            for entry in session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id.in_(chunk))
                .order_by(TicketHistory.at, TicketHistory.id)
            ):
                history[entry.ticket_id].append(
                    Transition(_required(entry.at), entry.to_state, entry.from_state)
                )
            for occurrence in session.scalars(
                select(TicketOccurrence).where(
                    TicketOccurrence.ticket_id.in_(chunk),
                    TicketOccurrence.recorded_at >= start,
                    TicketOccurrence.recorded_at < end,
                )
            ):
                occurrences[occurrence.ticket_id].append(_required(occurrence.recorded_at))
        return [
            TicketRecord(
                id=t.id,
                device_id=t.device_id,
                site=t.site,
                building=t.building,
                kind=t.kind,
                fault_type=t.fault_type,
                severity=t.severity,
                opened_at=_required(t.opened_at),
                dispatch_due_at=_required(t.dispatch_due_at),
                rectify_due_at=_required(t.rectify_due_at),
                history=tuple(history[t.id]),
                dispatch_breached=t.dispatch_breached,
                rectify_breached=t.rectify_breached,
                repeat_count=t.repeat_count,
                card=t.card,
                false_alarm=t.false_alarm,
                occurrences=tuple(occurrences[t.id]),
                contractor=t.contractor,
                summary_labels=tuple(
                    summary_labels(t.summary_key, t.summary_params, t.summary).items()
                ),
            )
            for t in tickets
        ]


def count_dead_letters(engine: Engine, start: datetime, end: datetime) -> int:
    """Dead letters received in [start, end)."""
    with Session(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.received_at >= start, DeadLetter.received_at < end)
        )
    return int(count or 0)
