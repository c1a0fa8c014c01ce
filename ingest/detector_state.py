"""Detector state across restarts: saved at intervals and at shutdown, restored at start,
and rebuilt from the time-series store where nothing was saved.

Generic, not per detector: a detector's state is its instance attributes minus `device`
and `config` (`state_of`), pickled with the parameters it was learnt with. A detector
holding a callable (the offline detector's wall clock) is not saved: its state is about
this process's clock, not learnt, and a restored silence timer would report the whole
fleet offline after a restart. A row is restored only when the detector's `version` and
its *layout* (class, attribute names, the nested objects' classes and attributes) equal
those of a freshly built instance; otherwise the detector is rebuilt by replay. State
learnt with other parameters is retuned by `Detector.reconfigure`, as a reload of the
configuration file is while running. A row that does not load is skipped, with one
warning per restore.

The bank is driven by the ingest intake thread, so the state is read there, with no lock:
`KeptBank.tick` (once a second) snapshots the devices that changed since the last save,
for at most `TICK_BUDGET_S` per tick, and hands the rows to a writer thread that upserts
them in short transactions. A save round of a large fleet thus spreads over many ticks,
and ingestion pauses for at most the budget at each.

Replay. At start, before the subscriber runs, each device's detectors are fed the
device's telemetry from the series store: from the saved `last_ts_ms` for restored
detectors (the samples judged after the last save), from `replay_hours` back for
detectors with nothing restored. Live samples at or before the replayed time are then
not judged again (they are the broker's redeliveries of what was already fed).
Findings of the replay are dropped, not recorded: the previous process judged every
stored sample before it was made durable and recorded its findings then, so a replay
finding is either already a ticket occurrence or a judgement the previous version did
not make on old data; recording it would add occurrences twice, or reopen (and card) a
ticket closed since. A fault that persists keeps the detector's decision armed, and the
live samples that follow decide as they would have without the restart.

>>> from contract.topics import DeviceRef
>>> from detectors.pump_bearing import BearingWearDetector
>>> pump = DeviceRef("s", "b", "pump", "p1")
>>> learnt = BearingWearDetector(pump)
>>> learnt.baseline = 0.2
>>> fresh = BearingWearDetector(pump)
>>> layout_of(fresh) == layout_of(learnt)
True
>>> restore_into(fresh, snapshot(learnt)); fresh.baseline
0.2
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from contract.finding import Finding
from contract.payload import Event, MetricValue, Sample, StatusChange
from contract.topics import DeviceRef
from detectors.base import Detector
from detectors.registry import DetectorBank, DeviceKey, device_key
from ingest.device_registry import DeviceRegistry
from storage.detector_state import DetectorStateStore, StateRow
from storage.timeseries import SeriesStore
from storage.timeseries.influx import InfluxStore, quote_ident, quote_literal

log = logging.getLogger(__name__)

# Intake time one tick may spend snapshotting before it returns to the messages. A round
# of 10,000 devices took 3.2 s of CPU (tools/bench_detector_state.py): with 50 ms a
# second, it fits in about a minute, the default interval; the pause is below the
# batches' own delay.
TICK_BUDGET_S: Final = 0.05
# Rows per transaction. Each row stands alone (it carries its own sample time), so a save
# need not be one transaction; on SQLite, one transaction for 10,000 devices (72,500 rows)
# held the database's only write lock for 4 s, and ticket and device-registry writes
# waited behind it; 500 rows hold it for 10-16 ms (median), at the same total time.
SAVE_CHUNK_ROWS: Final = 500
# Samples replayed per device at most, by default: the newest 2,000 (33 min at one sample
# a second, two weeks at one per 10 min). A replay runs at about 26,000 samples per CPU
# second and blocks the start, so a day of a 10,000-device 1 Hz fleet (9 CPU-hours) would
# hold the service down; 2,000 each keep that first start under 15 CPU-minutes. Older
# history is a gap to the detectors, which they handle as one.
REPLAY_MAX_SAMPLES: Final = 2_000
REPLAY_FETCH_THREADS: Final = 8
# The broker redelivers what was unacknowledged at a crash: the batches written but not yet
# acknowledged. Under load one batch can hold many minutes of a device's data (a restart's
# backlog arrives in seconds), so every sample the replay fed or the saved state covers is
# a redelivery when it comes again, and so is one up to this much older. A sample further
# back is a device clock set back, and judged.
REDELIVERY_WINDOW_MS: Final = 600_000
_NOT_STATE: Final = frozenset({"device", "config", "_made_with"})


class StateMismatch(ValueError):
    """A saved state that does not load into the detector as built now (a corrupt row)."""


class LayoutChanged(ValueError):
    """A state saved by code of another layout: the detector is rebuilt, not a problem."""


# -- one detector's state ------------------------------------------------------------


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slot_names(cls: type) -> tuple[str, ...]:
    found = _SLOTS.get(cls)
    if found is None:
        names: list[str] = []
        for klass in cls.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            names.extend((slots,) if isinstance(slots, str) else slots)
        found = _SLOTS[cls] = tuple(n for n in names if n not in ("__dict__", "__weakref__"))
    return found


def _attribute_names(obj: object) -> list[str]:
    names = list(getattr(obj, "__dict__", ()))
    slots = _slot_names(type(obj))
    if slots:
        names.extend(n for n in slots if n not in names and hasattr(obj, n))
    return names


def state_of(detector: Detector) -> dict[str, Any]:
    """What the detector has learnt: every attribute but its device and configuration."""
    return {
        name: getattr(detector, name)
        for name in _attribute_names(detector)
        if name not in _NOT_STATE
    }


_PERSISTABLE: dict[type[Detector], bool] = {}


def persistable(detector: Detector) -> bool:
    """False for a detector class that holds a callable (a clock): see the module's
    docstring. Judged once per class, on the first instance seen."""
    found = _PERSISTABLE.get(type(detector))
    if found is None:
        values = state_of(detector).values()
        found = _PERSISTABLE[type(detector)] = not any(callable(v) for v in values)
    return found


def _shape(value: object, depth: int) -> str:
    """A nested object of our own classes, described by class and attribute names."""
    if depth > 3 or type(value).__module__ == "builtins" or not hasattr(value, "__dict__"):
        return ""
    inner = ",".join(
        f"{name}{_shape(getattr(value, name), depth + 1)}"
        for name in sorted(_attribute_names(value))
    )
    return f"<{type(value).__qualname__}:{inner}>"


_LAYOUTS: dict[tuple[type[Detector], int], tuple[object, str]] = {}


def layout_of(detector: Detector) -> str:
    """The layout of a freshly built detector of this class and configuration: class,
    attribute names, nested objects' classes and attributes. Built once per configuration."""
    key = (type(detector), id(detector.config))
    found = _LAYOUTS.get(key)
    if found is not None and found[0] is detector.config:
        return found[1]
    fresh = type(detector)(detector.device, detector.config)
    described = "|".join(f"{name}{_shape(value, 1)}" for name, value in state_of(fresh).items())
    text = f"{type(detector).__module__}.{type(detector).__qualname__}|{described}"
    layout = hashlib.sha256(text.encode()).hexdigest()[:32]
    _LAYOUTS[key] = (detector.config, layout)  # the config is kept alive: its id stays its own
    return layout


_CONFIG_JSON: dict[int, tuple[object, str]] = {}


def _config_json(detector: Detector) -> str:
    config = detector.config
    found = _CONFIG_JSON.get(id(config))
    if found is None or found[0] is not config:
        found = _CONFIG_JSON[id(config)] = (config, config.model_dump_json())
    return found[1]


def snapshot(detector: Detector) -> bytes:
    """The detector's state and the parameters it was learnt with."""
    payload = {"config": _config_json(detector), "state": state_of(detector)}
    return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def restore_into(detector: Detector, blob: bytes, layout: str | None = None) -> None:
    """Put a saved state into a freshly built detector. Raises StateMismatch when it does
    not load, LayoutChanged when it was saved by code of another `layout`; the detector is
    then left untouched.

    State learnt with other parameters (the configuration file changed while the service
    was down) is loaded into a twin built with those, which `reconfigure` then retunes to
    the current ones, as a reload while running would.

    The bytes come from the service's own database, which also holds its tickets and
    accounts: whoever can write them can do worse already."""
    try:
        payload = pickle.loads(blob)  # our own database, see above
    except Exception as exc:
        raise StateMismatch(f"does not unpickle: {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("state"), dict):
        raise StateMismatch(f"holds a {type(payload).__name__}, not a saved state")
    target = detector
    if payload.get("config") != _config_json(detector):
        try:
            saved = type(detector).Config.model_validate_json(payload.get("config") or "")
        except ValueError as exc:  # a parameter renamed or removed since
            raise LayoutChanged(f"saved with parameters this version refuses: {exc}") from exc
        target = type(detector)(detector.device, saved)
    if layout is not None and layout != layout_of(target):
        raise LayoutChanged("saved by a detector of another layout")
    state: dict[str, Any] = payload["state"]
    expected = {name for name in _attribute_names(target) if name not in _NOT_STATE}
    if state.keys() != expected:
        raise StateMismatch(
            f"attributes {sorted(set(state) ^ expected)} differ from the detector's"
        )
    for name, value in state.items():
        setattr(target, name, value)
    if target is not detector:
        try:
            target.reconfigure(detector.config)
        except Exception as exc:
            raise LayoutChanged(f"cannot be retuned to the current parameters: {exc}") from exc
        for name, value in state_of(target).items():
            setattr(detector, name, value)


# -- the bank that knows what changed --------------------------------------------------


class KeptBank(DetectorBank):
    """The detector bank, plus what saving and replay need: which devices changed since
    their state was saved, the newest sample time each device's detectors have seen, and
    until when replay has already fed a device. `tick_hook` runs after every tick, on
    the intake thread (the keeper's snapshots)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed: set[DeviceKey] = set()
        self.last_ts: dict[DeviceKey, int] = {}
        self.replayed_to: dict[DeviceKey, int] = {}
        # Where that judged span begins: the saved state's last sample, or the oldest
        # sample replayed (absent: the span is the mark alone).
        self.replayed_from: dict[DeviceKey, int] = {}
        self.tick_hook: Callable[[], None] | None = None

    def on_sample(self, sample: Sample) -> list[Finding]:
        device = sample.device
        key = (device.site, device.device_id)
        ts_ms = sample.ts_ms
        if self.replayed_to:
            mark = self.replayed_to.get(key)
            if mark is not None:
                since = self.replayed_from.get(key, mark)
                if min(since, mark) - REDELIVERY_WINDOW_MS < ts_ms <= mark:
                    return []  # fed already (replay, or before the crash): a redelivery
                del self.replayed_to[key]  # newer, or a device clock set back
                self.replayed_from.pop(key, None)
        self.changed.add(key)
        if self.last_ts.get(key, -1) < ts_ms:
            self.last_ts[key] = ts_ms
        return super().on_sample(sample)

    def on_event(self, event: Event) -> list[Finding]:
        self.changed.add(device_key(event.device))
        return super().on_event(event)

    def on_status(self, status: StatusChange) -> list[Finding]:
        self.changed.add(device_key(status.device))
        return super().on_status(status)

    def tick(self) -> list[Finding]:
        findings = super().tick()
        if self.tick_hook is not None:
            self.tick_hook()
        return findings

    def kept(self, key: DeviceKey) -> list[Detector] | None:
        """The device's detectors, if the bank still holds it."""
        return self._devices.get(key)


# -- reading a device's history ---------------------------------------------------------


def _as_sample(device: DeviceRef, ts_ms: int, fields: dict[str, Any]) -> Sample:
    metrics: dict[str, MetricValue] = {k: v for k, v in fields.items() if k != "seq"}
    seq = fields.get("seq")
    return Sample(device, ts_ms, int(seq) if isinstance(seq, int | float) else 0, metrics)


def device_history(
    series: SeriesStore, device: DeviceRef, since_ms: int, limit: int = REPLAY_MAX_SAMPLES
) -> list[Sample]:
    """The device's telemetry after `since_ms`, oldest first (the newest `limit`)."""
    if isinstance(series, InfluxStore):
        query = (
            f"SELECT * FROM {quote_ident(device.kind)}"
            f" WHERE device_id = {quote_literal(device.device_id)}"
            f" AND site = {quote_literal(device.site)} AND time > {int(since_ms)}ms"
            f" ORDER BY time DESC LIMIT {int(limit)}"
        )
        samples: list[Sample] = []
        for found in series.query(query):
            columns: list[str] = found["columns"]
            skip = {"time", "site", "building", "device_id"}
            for values in found["values"]:
                record = dict(zip(columns, values, strict=True))
                fields = {k: v for k, v in record.items() if k not in skip and v is not None}
                samples.append(_as_sample(device, int(record["time"]), fields))
        samples.reverse()
        return samples
    rows = series.recent(device.kind, device.device_id, limit, site=device.site)
    return [
        _as_sample(device, row.ts_ms, row.fields) for row in reversed(rows) if row.ts_ms > since_ms
    ]


def owned_by(units: Sequence[str]) -> Callable[[DeviceRef], bool]:
    """Whether a device lies in one of a worker's `site` or `site/building` units."""
    if not units:
        return lambda device: True
    wanted = frozenset(units)
    return lambda d: d.site in wanted or f"{d.site}/{d.building}" in wanted


# -- the keeper --------------------------------------------------------------------------


@dataclass
class RestoreReport:
    devices: int = 0
    restored: int = 0  # detectors whose saved state was put back
    rebuilt: int = 0  # detectors with no fitting saved state (replayed from history)
    skipped: int = 0  # rows that did not fit (corrupt, or another layout)
    replayed_samples: int = 0
    history_error: str | None = None  # the series store failed: replay stopped there
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SaveFigures:
    devices: int
    rows: int
    snapshot_s: float  # intake-thread time, over every tick of the round
    write_s: float  # the writer thread's transactions
    longest_transaction_s: float  # how long the database's write lock was held at most


class StateKeeper:
    """Saves the bank's state every `save_every_s`, restores it at start, and saves the
    rest at shutdown. Call `restore` and `start` before the intake thread runs, `stop`
    after it has stopped."""

    def __init__(
        self,
        bank: KeptBank,
        store: DetectorStateStore,
        series: SeriesStore | None,
        save_every_s: float = 60.0,
        replay_hours: float = 24.0,
        replay_max_samples: int = REPLAY_MAX_SAMPLES,
        tick_budget_s: float = TICK_BUDGET_S,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bank = bank
        self.store = store
        self.series = series
        self.save_every_s = save_every_s
        self.replay_hours = replay_hours
        self.replay_max_samples = replay_max_samples
        self.tick_budget_s = tick_budget_s
        self.wall_clock_ms = wall_clock_ms
        self.monotonic_s = monotonic_s
        self._next_save = monotonic_s() + save_every_s
        self._round: deque[DeviceKey] = deque()
        self._round_rows: list[StateRow] = []
        self._round_devices = 0
        self._round_snapshot_s = 0.0
        self._writes: queue.Queue[tuple[list[StateRow], int, float] | None] = queue.Queue()
        self._unsaved: dict[tuple[str, str, str], StateRow] = {}
        self._writer: threading.Thread | None = None
        self._failed_classes: set[type[Detector]] = set()
        self.last_save: SaveFigures | None = None
        self.saves = 0

    # -- saving ------------------------------------------------------------------

    def start(self) -> None:
        self.bank.tick_hook = self.on_tick
        self._writer = threading.Thread(
            target=self._write_loop, name="facmon-detector-state", daemon=True
        )
        self._writer.start()

    def _rows_for(self, key: DeviceKey) -> list[StateRow]:
        detectors = self.bank.kept(key)
        if not detectors:
            self.bank.last_ts.pop(key, None)  # dropped by the bank's cap
            return []
        last_ts = self.bank.last_ts.get(key)
        rows = []
        for detector in detectors:
            if type(detector) in self._failed_classes or not persistable(detector):
                continue
            try:
                blob = snapshot(detector)
                layout = layout_of(detector)
            except Exception as exc:  # one detector's oddity must not stop the others
                self._failed_classes.add(type(detector))
                log.warning(
                    "detector %s cannot be saved (%s: %s); it will be rebuilt after a restart",
                    detector.name,
                    type(exc).__name__,
                    exc,
                )
                continue
            device = detector.device
            rows.append(
                StateRow(
                    device.site,
                    device.building,
                    device.kind,
                    device.device_id,
                    detector.name,
                    detector.version,
                    layout,
                    last_ts,
                    blob,
                )
            )
        return rows

    def on_tick(self) -> None:
        """On the intake thread: start a save round when due, snapshot part of it."""
        try:
            started = self.monotonic_s()
            if not self._round and not self._round_rows and started >= self._next_save:
                self._next_save = started + self.save_every_s
                changed, self.bank.changed = self.bank.changed, set()
                self._round.extend(changed)
                self._round_devices = len(changed)
                self._round_snapshot_s = 0.0
            if not self._round and not self._round_rows:
                return
            deadline = started + self.tick_budget_s
            while self._round:  # at least one device a tick, however small the budget
                self._round_rows.extend(self._rows_for(self._round.popleft()))
                if self.monotonic_s() >= deadline:
                    break
            self._round_snapshot_s += self.monotonic_s() - started
            if not self._round:
                self._writes.put((self._round_rows, self._round_devices, self._round_snapshot_s))
                self._round_rows = []
        except Exception:
            log.exception("detector state snapshot failed")

    def _write(self, rows: list[StateRow], devices: int, snapshot_s: float) -> None:
        """Upsert the round's rows, `SAVE_CHUNK_ROWS` to a transaction (see the constant);
        what fails stays for the next round."""
        for row in rows:
            self._unsaved[(row.site, row.device_id, row.detector)] = row
        if not self._unsaved:
            return
        pending = list(self._unsaved.values())
        started = time.perf_counter()
        longest = 0.0
        for at in range(0, len(pending), SAVE_CHUNK_ROWS):
            chunk = pending[at : at + SAVE_CHUNK_ROWS]
            chunk_started = time.perf_counter()
            try:
                self.store.save(chunk)
            except Exception as exc:  # the database is down: keep the rest for the next round
                log.warning(
                    "detector state of %d detectors not saved, retried with the next save: %s",
                    len(pending) - at,
                    exc,
                )
                return
            longest = max(longest, time.perf_counter() - chunk_started)
            for row in chunk:
                key = (row.site, row.device_id, row.detector)
                if self._unsaved.get(key) is row:
                    del self._unsaved[key]
        self.saves += 1
        self.last_save = SaveFigures(
            devices, len(pending), snapshot_s, time.perf_counter() - started, longest
        )
        log.debug("detector state saved: %s", self.last_save)

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            self._write(*item)

    def stop(self) -> None:
        """After the intake thread stopped: save every change not saved yet."""
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(30)
            self._writer = None
        self.bank.tick_hook = None
        started = time.perf_counter()
        devices = {*self._round, *self.bank.changed}
        self._round.clear()
        self.bank.changed = set()
        rows = self._round_rows + [row for d in devices for row in self._rows_for(d)]
        self._round_rows = []
        self._write(rows, len(devices), time.perf_counter() - started)
        if self._unsaved:
            log.warning("stopping with the state of %d detectors unsaved", len(self._unsaved))

    # -- restoring -----------------------------------------------------------------

    def resume(self, registry: DeviceRegistry, units: Sequence[str] = ()) -> RestoreReport:
        """Restore (and replay) the devices of this worker's `units` (every device when
        none), then start saving: what the service calls before its intake runs."""
        known = [DeviceRef(d.site, d.building, d.kind, d.device_id) for d in registry.list()]
        report = self.restore(known, owned_by(units))
        self.start()
        return report

    def restore(
        self,
        known: Iterable[DeviceRef] = (),
        owns: Callable[[DeviceRef], bool] = lambda device: True,
    ) -> RestoreReport:
        """Put saved states back and replay history, before live samples are judged.

        `known`: devices heard before (the device registry); those without saved state
        are rebuilt from `replay_hours` of history. `owns`: the devices this worker
        judges (its sites); the others are left to their own worker."""
        started = time.perf_counter()
        report = RestoreReport()
        saved: dict[tuple[str, str], dict[str, StateRow]] = defaultdict(dict)
        devices: dict[tuple[str, str], DeviceRef] = {}
        for row in self.store.load():
            ref = DeviceRef(row.site, row.building, row.kind, row.device_id)
            if owns(ref):
                saved[(row.site, row.device_id)][row.detector] = row
                devices[(row.site, row.device_id)] = ref
        for ref in known:
            if owns(ref):
                devices.setdefault((ref.site, ref.device_id), ref)
        now_ms = self.wall_clock_ms()
        lookback_ms = now_ms - int(self.replay_hours * 3_600_000)
        plans: list[tuple[DeviceRef, list[tuple[Detector, int]], int | None]] = []
        for key, ref in devices.items():
            rows = saved.get(key, {})
            feeds: list[tuple[Detector, int]] = []
            resume: int | None = None
            for detector in self.bank.detectors_for(ref):
                if not persistable(detector):
                    continue
                found = rows.get(detector.name)
                since = lookback_ms
                if found is not None and self._fits(detector, found, report):
                    report.restored += 1
                    if found.last_ts_ms is None:  # saved before any telemetry: none to add
                        continue
                    since = max(found.last_ts_ms, lookback_ms)
                    resume = max(resume or found.last_ts_ms, found.last_ts_ms)
                else:
                    report.rebuilt += 1
                if since < now_ms:
                    feeds.append((detector, since))
            plans.append((ref, feeds, resume))
        report.devices = len(plans)
        self._replay(plans, report)
        report.seconds = time.perf_counter() - started
        if report.history_error:
            log.warning(
                "detector replay stopped, the time-series store failed (%s): detectors start "
                "from their saved state, or afresh",
                report.history_error,
            )
        if report.problems:
            log.warning(
                "%d saved detector states skipped and rebuilt from history, first: %s",
                report.skipped,
                report.problems[0],
            )
        log.info(
            "detector state: %d devices, %d detectors restored, %d rebuilt, "
            "%d samples replayed, in %.2f s",
            report.devices,
            report.restored,
            report.rebuilt,
            report.replayed_samples,
            report.seconds,
        )
        return report

    @staticmethod
    def _fits(detector: Detector, row: StateRow, report: RestoreReport) -> bool:
        if row.version != detector.version:
            return False  # changed code: rebuilt, not a problem
        try:
            restore_into(detector, row.state, row.layout)
        except LayoutChanged:
            return False
        except StateMismatch as exc:
            report.skipped += 1
            report.problems.append(f"{row.site}/{row.device_id} {row.detector}: {exc}")
            return False
        return True

    def _replay(
        self,
        plans: Sequence[tuple[DeviceRef, list[tuple[Detector, int]], int | None]],
        report: RestoreReport,
    ) -> None:
        series = self.series
        for ref, _, resume in plans:
            if resume is not None:
                self.bank.last_ts[device_key(ref)] = resume
                self.bank.replayed_to[device_key(ref)] = resume
                self.bank.replayed_from[device_key(ref)] = resume
        if series is None:
            return
        todo = [(ref, feeds) for ref, feeds, _ in plans if feeds]

        failed = threading.Event()

        def fetch(item: tuple[DeviceRef, list[tuple[Detector, int]]]) -> list[Sample]:
            """A device's history; after the store's first failure, nothing more is asked
            (with InfluxDB down, each query of a fleet would wait for its timeout)."""
            if failed.is_set():
                return []
            ref, feeds = item
            try:
                since = min(since for _, since in feeds)
                return device_history(series, ref, since, self.replay_max_samples)
            except Exception as exc:
                if not failed.is_set():
                    failed.set()
                    report.history_error = f"{ref.site}/{ref.device_id}: {exc}"
                return []

        with ThreadPoolExecutor(REPLAY_FETCH_THREADS, "facmon-replay") as pool:
            for (ref, feeds), samples in zip(todo, pool.map(fetch, todo), strict=True):
                for sample in samples:
                    for detector, since in feeds:
                        if sample.ts_ms > since:
                            try:
                                detector.update(sample)  # findings dropped: see the docstring
                            except Exception:
                                log.exception("detector %s failed in replay", detector.name)
                if samples:
                    report.replayed_samples += len(samples)
                    newest = samples[-1].ts_ms
                    key = device_key(ref)
                    mark = max(self.bank.replayed_to.get(key, newest), newest)
                    self.bank.last_ts[key] = mark
                    self.bank.replayed_to[key] = mark
                    oldest = samples[0].ts_ms
                    since = min(self.bank.replayed_from.get(key, oldest), oldest)
                    self.bank.replayed_from[key] = since
