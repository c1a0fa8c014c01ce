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
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine

from contract.clock import from_ms
from contract.finding import Finding
from contract.payload import Sample
from detectors.base import Detector
from detectors.config_file import DetectorConfigFile
from detectors.registry import DetectorBank, DeviceKey, SampleJudge
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

# Samples judged as one block (see `Replay._judge_by_device`): enough for each device to
# have a run of samples in it (`ROWS_PER_DEVICE` of the devices heard so far), few enough
# to hold in memory (a sample with its metrics takes about a kilobyte).
BLOCK_ROWS: Final = 4_096
MAX_BLOCK_ROWS: Final = 65_536
ROWS_PER_DEVICE: Final = 8


@dataclass(slots=True)
class _Block:
    """Samples in time order, and the ticks between them: tick `i` at `grid[i]` runs
    before the sample at position `grid_rows[i]`; `ticks_before[p]` ticks run before
    the sample at position `p`."""

    rows: list[Sample] = field(default_factory=list)
    grid: list[int] = field(default_factory=list)
    grid_rows: list[int] = field(default_factory=list)
    ticks_before: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Run:
    """A ticking detector of one device: its device, its place among the device's
    tickers (the order `tick` calls them) and among its detectors (`on_sample`'s)."""

    key: DeviceKey
    ticker_place: int
    ticker: Detector
    detector_place: int  # -1: not among the detectors judging samples


# A finding batch to record: its place in the order the file's order raises them (event,
# device's place in the bank's ticking order or -1 for a sample, detector), its time.
Raised = tuple[tuple[int, int, int], int, list[Finding]]


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
        self._ranks: dict[DeviceKey, int] = {}  # the order in which the bank ticks devices
        self._in_order = False  # judge samples in the file's order (see `_judge`)

    def judge_in_file_order(self) -> None:
        """Judge every sample in the file's order, as the service would meet them, instead
        of a block's samples one device at a time: slower, and the same findings."""
        self._in_order = True

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

    def _grid_until(self, ts_ms: int, grid: list[int]) -> None:
        """Append to `grid` the tick times the service would have ticked at before
        `ts_ms`. They depend on the samples' times only, never on what a detector says."""
        next_tick = self._next_tick
        if next_tick is None or next_tick >= ts_ms:
            return
        options = self.options
        step = options.tick_ms
        exact_end = next_tick - step + options.exact_span_ms
        ticks = 0
        while next_tick < ts_ms:
            grid.append(next_tick)
            ticks += 1
            if next_tick >= exact_end:
                remaining = ts_ms - next_tick
                step = max(step, -(-remaining // options.max_coarse_ticks))
            next_tick += step
        # Back on the service's grid: ticks come every `tick_ms` from the last one.
        if step != options.tick_ms:
            next_tick = ts_ms + options.tick_ms
        self._next_tick = next_tick
        self.stats.ticks += ticks

    def feed(
        self,
        records: Iterable[Record],
        progress: Callable[[int], None] | None = None,
        every: int = 16_384,
    ) -> None:
        """Replay `records`; a `BadRow` is kept and skipped. `progress(samples)` is called
        each time the count of samples passes a multiple of `every`."""
        started = time.perf_counter()
        stats = self.stats
        last_ms = stats.last_ms
        block = _Block()
        rows, grid, ticks_before = block.rows, block.grid, block.ticks_before
        limit = self._block_rows()
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
                    before = len(grid)
                    self._grid_until(ts_ms, grid)
                    block.grid_rows.extend([len(rows)] * (len(grid) - before))
                last_ms = ts_ms
            ticks_before.append(len(grid))
            rows.append(record)
            if len(rows) >= limit:
                self._judge(block, progress, every)
                block = _Block()
                rows, grid, ticks_before = block.rows, block.grid, block.ticks_before
                limit = self._block_rows()
        self._judge(block, progress, every)
        stats.last_ms = last_ms
        stats.total_s += time.perf_counter() - started

    def _block_rows(self) -> int:
        return min(max(BLOCK_ROWS, ROWS_PER_DEVICE * len(self.bank)), MAX_BLOCK_ROWS)

    def _judge(self, block: _Block, progress: Callable[[int], None] | None, every: int) -> None:
        """Run the block's samples and ticks through the bank and record the findings in
        the order the service would have raised them."""
        if not block.rows:
            return
        keys: dict[DeviceKey, list[int]] = {}
        for position, sample in enumerate(block.rows):
            device = sample.device
            key = (device.site, device.device_id)
            found = keys.get(key)
            if found is None:
                keys[key] = [position]
            else:
                found.append(position)
        bank = self.bank
        if self._in_order or len(bank) + len(keys) > bank.max_devices:
            # Devices may be dropped (`max_devices`): the least recently used first, as the
            # service would, so from here on every sample is judged in the file's order.
            self._in_order = True
            self._judge_in_order(block)
        else:
            self._judge_by_device(block, keys)
        stats = self.stats
        before = stats.samples
        stats.samples += len(block.rows)
        stats.devices.update(keys)
        if progress is not None and stats.samples // every > before // every:
            progress(stats.samples)

    def _judge_in_order(self, block: _Block) -> None:
        """Every tick and sample in the order of time, as the service runs them."""
        clock, bank = self.clock, self.bank
        grid, grid_rows = block.grid, block.grid_rows
        tick = 0
        for position, sample in enumerate(block.rows):
            while tick < len(grid) and grid_rows[tick] <= position:
                self._tick_all(grid[tick])
                tick += 1
            clock.ms = sample.ts_ms
            found = bank.on_sample(sample)
            if found:
                self._record(found)

    def _tick_all(self, now_ms: int) -> None:
        started = time.perf_counter()
        ticket_s = self.stats.ticket_s
        self.clock.ms = now_ms
        found = self.bank.tick()
        if found:
            self._record(found)
        self.stats.tick_s += time.perf_counter() - started
        self.stats.tick_ticket_s += self.stats.ticket_s - ticket_s

    def _judge_by_device(self, block: _Block, keys: dict[DeviceKey, list[int]]) -> None:
        """The block's samples judged one device at a time and, within a device, one
        detector at a time: each detector meets the device's samples (a ticking one, its
        ticks too) in the order of time; every finding is then recorded in the order the
        file's order raises it.

        Why: a detector sees only its own device's samples and ticks, so the order in
        which devices and detectors take turns changes no decision, but it decides how
        warm the processor's caches are. In the file's order every sample runs another
        device's eight to ten detectors; here one detector's code and state run over a
        run of samples. Measured on the bench replay, alternated with the file's order
        in one process (`tests/ingest/backtest/test_judged_by_device.py` proves the same
        findings): 200 devices, 64,282 against 55,735 samples a CPU second (1.15-1.28x
        over three rounds); 10,000 devices, 41,129 against 26,069 (1.4-1.7x)."""
        bank, clock = self.bank, self.clock
        rows, grid, ticks_before = block.rows, block.grid, block.ticks_before
        ranks = self._ranks
        for key, positions in keys.items():  # devices new to the bank join in row order
            if key not in ranks:
                bank.detectors_for(rows[positions[0]].device)
                ranks[key] = len(ranks)
        raised: list[Raised] = []
        for key, positions in keys.items():
            tickers = bank.tickers_of(key)
            updates = bank.updates_for(rows[positions[0]].device)
            for index, (detector, update) in enumerate(updates):
                if detector in tickers:
                    run = _Run(key, tickers.index(detector), detector, index)
                    self._ticked_run(run, update, positions, block, raised)
                    continue
                for position in positions:
                    sample = rows[position]
                    clock.ms = sample.ts_ms
                    found = update(sample)
                    if found:
                        order = (position + ticks_before[position], -1, index)
                        raised.append((order, sample.ts_ms, bank.stamped(found)))
        if grid:
            for key in bank.ticker_keys():  # devices silent in this block still tick
                if key not in keys:
                    for rank, ticker in enumerate(bank.tickers_of(key)):
                        if grid[-1] >= ticker.tick_due_ms:
                            run = _Run(key, rank, ticker, -1)
                            self._tick(run, block, 0, len(grid), raised)
        bank.touch(sorted(keys, key=lambda key: keys[key][-1]))
        if raised:
            raised.sort(key=lambda entry: entry[0])
            for _, at_ms, found in raised:
                clock.ms = at_ms
                self._record(found)
        clock.ms = rows[-1].ts_ms

    def _ticked_run(
        self,
        run: _Run,
        update: SampleJudge,
        positions: list[int],
        block: _Block,
        raised: list[Raised],
    ) -> None:
        """A detector that ticks (offline) meets the device's samples and the ticks
        between them in the order of time."""
        rows, grid, ticks_before, clock = block.rows, block.grid, block.ticks_before, self.clock
        ticker = run.ticker
        done = 0  # ticks of the block the ticker has been through
        for position in positions:
            upto = ticks_before[position]
            if upto > done:
                if grid[upto - 1] >= ticker.tick_due_ms:
                    self._tick(run, block, done, upto, raised)
                done = upto
            sample = rows[position]
            clock.ms = sample.ts_ms
            found = update(sample)
            if found:
                order = (position + upto, -1, run.detector_place)
                raised.append((order, sample.ts_ms, self.bank.stamped(found)))
        if len(grid) > done and grid[-1] >= ticker.tick_due_ms:
            self._tick(run, block, done, len(grid), raised)

    def _tick(self, run: _Run, block: _Block, start: int, stop: int, raised: list[Raised]) -> None:
        """The ticks `start`..`stop` of the block for one ticker, as `DetectorBank.tick`
        would have run them: called once a tick reaches the ticker's `tick_due_ms`."""
        started = time.perf_counter()
        grid, grid_rows, clock, ticker = block.grid, block.grid_rows, self.clock, run.ticker
        rank = self._ranks[run.key]
        tick = bisect_left(grid, ticker.tick_due_ms, start, stop)
        while tick < stop:
            now_ms = grid[tick]
            clock.ms = now_ms
            found = ticker.tick(now_ms)
            if found:
                order = (tick + grid_rows[tick], rank, run.ticker_place)
                raised.append((order, now_ms, self.bank.stamped(found)))
            tick = bisect_left(grid, ticker.tick_due_ms, tick + 1, stop)
        self.stats.tick_s += time.perf_counter() - started

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
