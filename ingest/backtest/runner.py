"""Replay samples through the production detector bank and ticket store, in data time.

The service hands every sample to `DetectorBank.on_sample`, records each finding with
`TicketStore.record`, and calls `DetectorBank.tick` about once a second so that silence
opens `offline`. The replay does the same with one clock that reads data time: the
sample's own time while it is judged, and the tick grid's time in between, so a real
recording gap opens `offline` exactly as the service would have.

Ticks run every `tick_ms` of data time, like the service's tick; a silence longer than
`exact_span_ms` is ticked at that period only for its first `exact_span_ms`, then at
most `max_coarse_ticks` more times (a ten-day recording gap must not cost 864,000 calls).

>>> from datetime import UTC, datetime
>>> clock = DataClock(0)
>>> clock.set_ms(1_700_000_000_000)
>>> clock.now() == datetime.fromtimestamp(1_700_000_000, UTC)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from contract.clock import from_ms
from contract.finding import Finding
from contract.payload import Sample
from detectors.config_file import DetectorConfigFile
from detectors.registry import DetectorBank
from ingest.backtest.records import BadRow, Record
from quality.maintenance.gate import Cover
from quality.maintenance.history import cover_at
from quality.tickets import TicketStore
from quality.tickets.policy import TicketPolicy


class DataClock:
    """The replay's one clock: the detectors read `now_ms`, the ticket store `now`."""

    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def set_ms(self, ms: int) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms

    def now(self) -> datetime:
        return from_ms(self.ms)


BankFactory = Callable[[DataClock], DetectorBank]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """The service's defaults (`facmon.settings`); the shell passes the configured ones."""

    offline_after_ms: int = 120_000
    will_grace_ms: int | None = None
    tick_ms: int = 1_000
    exact_span_ms: int = 3_600_000
    max_coarse_ticks: int = 100
    policy: TicketPolicy = field(default_factory=TicketPolicy)
    # Detector parameters per kind, site, building and device (`--config`,
    # `FACMON_DETECTORS_CONFIG`); None: the built-in defaults.
    detector_config: DetectorConfigFile | None = None
    # Planned maintenance of the replayed period, per (site, device_id)
    # (`quality.maintenance.history.past_covers`): a finding under a cover is kept as
    # suppressed and opens no ticket, as the service did. None: no maintenance known.
    maintenance: Mapping[tuple[str, str], Sequence[Cover]] | None = None


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding as the replay recorded it: `time_ms` is the data time it was raised."""

    finding: Finding
    time_ms: int
    ticket_id: int | None  # None: suppressed with no work order's ticket to note it on
    opened: bool
    suppressed: bool = False  # the device was under planned maintenance (保养)


@dataclass(slots=True)
class ReplayStats:
    samples: int = 0
    devices: set[tuple[str, str]] = field(default_factory=set)  # (site, device_id)
    first_ms: int | None = None
    last_ms: int | None = None
    ticks: int = 0
    tick_s: float = 0.0  # ticks, with recording their findings
    tick_ticket_s: float = 0.0  # of which recording the ticks' findings
    ticket_s: float = 0.0
    total_s: float = 0.0


class Replay:
    """One replay: `feed` it records (in time order), then read `findings` and the store."""

    def __init__(
        self,
        engine: Engine,
        options: ReplayOptions | None = None,
        bank_factory: BankFactory | None = None,
    ) -> None:
        self.options = options or ReplayOptions()
        self.clock = DataClock(0)
        if bank_factory is None:
            bank_factory = self._default_bank
        self.bank = bank_factory(self.clock)
        # No delivery sinks: a replay writes no outbox rows for webhooks or MQTT.
        self.tickets = TicketStore(engine, self.options.policy, clock=self.clock, sinks=())
        self.findings: list[FindingRecord] = []
        self.bad_rows: list[BadRow] = []
        self.stats = ReplayStats()
        self._next_tick: int | None = None

    def _default_bank(self, clock: DataClock) -> DetectorBank:
        return DetectorBank(
            offline_after_ms=self.options.offline_after_ms,
            clock_ms=clock.now_ms,
            will_grace_ms=self.options.will_grace_ms,
            config=self.options.detector_config,
        )

    def _record(self, findings: list[Finding]) -> None:
        started = time.perf_counter()
        now = self.clock.ms
        covers = self.options.maintenance
        at = from_ms(now) if covers else None
        for finding in findings:
            if covers and at is not None:
                device = finding.device
                cover = cover_at(covers, (device.site, device.device_id), at)
                if cover is not None:
                    self.findings.append(
                        FindingRecord(finding, now, cover.ticket_id, False, suppressed=True)
                    )
                    continue
            result = self.tickets.record(finding)
            self.findings.append(FindingRecord(finding, now, result.ticket_id, result.opened))
        self.stats.ticket_s += time.perf_counter() - started

    def _tick_until(self, ts_ms: int) -> None:
        """Run the ticks the service would have run before `ts_ms`."""
        next_tick = self._next_tick
        if next_tick is None or next_tick >= ts_ms:
            return
        started = time.perf_counter()
        options = self.options
        step = options.tick_ms
        exact_end = next_tick - step + options.exact_span_ms
        clock, bank = self.clock, self.bank
        ticks = 0
        ticket_s = self.stats.ticket_s
        while next_tick < ts_ms:
            clock.ms = next_tick
            found = bank.tick()
            ticks += 1
            if found:
                self._record(found)
            if next_tick >= exact_end:
                remaining = ts_ms - next_tick
                step = max(step, -(-remaining // options.max_coarse_ticks))
            next_tick += step
        # Back on the service's grid: ticks come every `tick_ms` from the last one.
        if step != options.tick_ms:
            next_tick = ts_ms + options.tick_ms
        self._next_tick = next_tick
        self.stats.ticks += ticks
        self.stats.tick_s += time.perf_counter() - started
        self.stats.tick_ticket_s += self.stats.ticket_s - ticket_s

    def feed(
        self,
        records: Iterable[Record],
        progress: Callable[[int], None] | None = None,
        every: int = 16_384,
    ) -> None:
        """Replay `records`; a `BadRow` is kept and skipped. `progress(samples)` is called
        every `every` samples."""
        started = time.perf_counter()
        stats = self.stats
        clock, bank = self.clock, self.bank
        devices = stats.devices
        count = stats.samples
        last_ms = stats.last_ms
        for record in records:
            if type(record) is not Sample:
                assert isinstance(record, BadRow)
                self.bad_rows.append(record)
                continue
            ts_ms = record.ts_ms
            if ts_ms != last_ms:
                if last_ms is None:
                    stats.first_ms = ts_ms
                    self._next_tick = ts_ms + self.options.tick_ms
                elif ts_ms < last_ms:
                    self.bad_rows.append(
                        BadRow(0, f"sample of {record.device.device_id} goes back in time")
                    )
                    continue
                else:
                    self._tick_until(ts_ms)
                last_ms = ts_ms
            clock.ms = ts_ms
            device = record.device
            devices.add((device.site, device.device_id))
            found = bank.on_sample(record)
            if found:
                self._record(found)
            count += 1
            if progress is not None and count % every == 0:
                progress(count)
        stats.samples = count
        stats.last_ms = last_ms
        stats.total_s += time.perf_counter() - started

    def ticket_rows(self) -> list[dict[str, Any]]:
        """Every ticket the replay opened, oldest first, with its occurrences' detectors."""
        tickets, _total = self.tickets.search(limit=1_000_000)
        rows: list[dict[str, Any]] = []
        for ticket in reversed(tickets):
            found = self.tickets.get(ticket.id)
            occurrences = found[1] if found else []
            names: list[str] = list(getattr(ticket, "detectors", None) or [ticket.detector])
            for occurrence in occurrences:
                name = (occurrence.evidence or {}).get("detector")
                if isinstance(name, str) and name not in names:
                    names.append(name)
            rows.append(
                {
                    "ticket": ticket,
                    "detectors": names,
                    "first_onset_ms": min([ticket.onset_ms, *(o.onset_ms for o in occurrences)]),
                }
            )
        return rows
