"""One pass of ingest: validate, track liveness, batch, detect, and acknowledge when durable.

The pipeline is transport-free: it takes `InboundMessage`s carrying their own
`ack` callback, so the same code runs behind Mosquitto, the embedded broker,
or a test feeding messages by hand. A message is acknowledged only after its
sample is in the time-series store (or its dead letter in the database), so a
crash at any point loses nothing: the broker redelivers, and the stores treat
the repeated point as the same point.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from contract.finding import Finding
from contract.payload import DEFAULT_LIMITS, Event, Sample, StatusChange, TimeLimits, decode_message
from contract.topics import SERVICE_TOPIC_PREFIXES, ContractError, DeviceRef
from detectors.registry import DetectorBank
from ingest.device_registry import DeviceRegistry, DeviceState
from ingest.recent_timestamps import RecentTimestamps
from ingest.row_schedule import RowSchedule
from ingest.spool import Spool
from observability.metrics import IngestMetrics
from quality.tickets import TicketStore
from quality.verification import TelemetryVerifier
from storage.dead_letters import DeadLetterStore, RejectedMessage
from storage.timeseries import Point, SeriesStore, StoreUnavailable
from storage.timeseries.base import FieldValue, PointsRefused
from storage.write_health import HealthTrackedStore

log = logging.getLogger(__name__)


# Time spent replaying the spool before each batch: the spool drains while live
# traffic flows, and a live batch waits at most about this much longer.
SPOOL_REPLAY_BUDGET_S = 0.5


def _ignore() -> None:
    return None


@dataclass(slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    received_ms: int
    ack: Callable[[], None] = field(default=_ignore)


class MessageSink(Protocol):
    """Where a transport hands what it read, one list per read, in arrival order:
    the intake (`ingest.worker.IngestWorker`) that feeds `IngestPipeline.handle`."""

    def submit(self, messages: list[InboundMessage]) -> None: ...


class AckSink(Protocol):
    """What the pipeline needs from its transport besides each message's own `ack`:
    a transport that holds acknowledgements back sends them here, once per batch."""

    def flush_acks(self) -> None: ...


class _NoTransport:
    def flush_acks(self) -> None:
        return None


@dataclass(slots=True)
class Batch:
    """What one flush makes durable, then acknowledges."""

    points: list[Point]
    rejected: list[RejectedMessage]
    devices: list[DeviceState]
    acks: list[Callable[[], None]]
    ingested: dict[tuple[str, str], int]
    sample_ts_ms: list[int] = field(default_factory=list)  # for the durable-lag histogram
    # id(point) -> the message it came from, so a point the store refuses becomes
    # that message's dead letter.
    sources: dict[int, InboundMessage] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.acks)


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_lines: int = 5_000
    max_delay_s: float = 0.5
    # Group commit: an idle writer takes the batch once it is this old, so that at
    # light load a sample waits about this long, not `max_delay_s`; under load, the
    # batch grows while the writer is busy and leaves the moment it is free.
    min_delay_s: float = 0.1
    # A device heard steadily is rewritten in the registry at most this often; a new
    # device, or one going online or offline, is written with the next batch. At
    # 10,000 devices a row per device per batch was a tenth of ingest's work.
    registry_refresh_s: float = 5.0


def reason_class(reason: str) -> str:
    """A short label for the metric, so that reasons do not explode its cardinality."""
    for needle, label in (
        ("duplicate timestamp", "duplicate"),
        ("refused the point", "refused"),
        ("line protocol", "refused"),
        ("reserved", "reserved"),
        ("UTF-8", "encoding"),
        ("JSON", "json"),
        ("nested", "json"),
        ("bytes, over", "size"),
        ("future", "timestamp"),
        ("past", "timestamp"),
        ("ts ", "timestamp"),
        ("identifier", "identifier"),
        ("is empty", "identifier"),
        ("kind", "kind"),
        ("topic", "topic"),
        ("channel", "topic"),
        ("range", "range"),
        ("must be", "type"),
        ("unknown metric", "schema"),
        ("missing", "schema"),
    ):
        if needle in reason:
            return label
    return "other"


def sample_point(sample: Sample) -> Point:
    device = sample.device
    return Point(
        device.kind,
        {"site": device.site, "building": device.building, "device_id": device.device_id},
        {**sample.metrics, "seq": sample.seq},
        sample.ts_ms,
    )


def event_point(event: Event) -> Point:
    """The event as a point; its `data` values are stored as floats (a boolean as 1.0
    or 0.0), so that a key sent as an integer, a float or a boolean never conflicts
    with the type InfluxDB fixed for it. The point's own fields come last and win."""
    device = event.device
    fields: dict[str, FieldValue] = {key: float(value) for key, value in event.data.items()}
    fields["event"] = event.event
    fields["seq"] = event.seq
    return Point(
        "events",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
        },
        fields,
        event.ts_ms,
    )


def status_point(status: StatusChange, ts_ms: int) -> Point:
    device = status.device
    return Point(
        "device_status",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
        },
        {"online": status.online},
        ts_ms,
    )


def ticket_point(finding: Finding, ticket_id: int, ts_ms: int) -> Point:
    device = finding.device
    return Point(
        "tickets",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
            "fault_type": finding.fault_type,
            "severity": finding.severity.value,
        },
        {"opened": 1, "ticket_id": ticket_id},
        ts_ms,
    )


class IngestPipeline:
    def __init__(
        self,
        series: SeriesStore,
        tickets: TicketStore,
        dead_letters: DeadLetterStore,
        devices: DeviceRegistry,
        detectors: DetectorBank,
        metrics: IngestMetrics,
        limits: TimeLimits = DEFAULT_LIMITS,
        policy: BatchPolicy = BatchPolicy(),
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic_s: Callable[[], float] = time.monotonic,
        verifier: TelemetryVerifier | None = None,
        spool: Spool | None = None,
        worker: str | None = None,
    ) -> None:
        self.worker = worker
        self.verifier = verifier
        self.spool = spool
        self._spool_warned = False
        self._replay_after = 0.0  # no replay attempt before this (store down: back off)
        self._replay_backoff_s = 0.5
        self._drain_started: float | None = None  # when the store took a chunk back
        if spool is not None:
            metrics.registry.on_collect(self._spool_gauges)
        # Every write reports to the health check: failing longer than a few batch
        # delays turns /healthz degraded.
        self.series = HealthTrackedStore(series, metrics.write_health)
        metrics.write_health.degraded_after_s = max(3 * policy.max_delay_s, 1.0)
        self._recent_ts = RecentTimestamps()
        self._sources: dict[int, InboundMessage] = {}
        self.tickets = tickets
        self.dead_letters = dead_letters
        self.devices = devices
        self.detectors = detectors
        self.metrics = metrics
        self.limits = limits
        self.policy = policy
        self.wall_clock_ms = wall_clock_ms
        self.monotonic_s = monotonic_s
        self._points: list[Point] = []
        self._rejected: list[RejectedMessage] = []
        self._acks: list[Callable[[], None]] = []
        self._transport: AckSink = _NoTransport()
        self._ingested: dict[tuple[str, str], int] = {}
        self._sample_ts_ms: list[int] = []
        self._batch_started: float | None = None
        self._states: dict[str, DeviceState] = {}
        self._rows = RowSchedule(policy.registry_refresh_s, self.monotonic_s)
        self._lag_ms: int | None = None  # receive time minus device time, last sample

    def connect(self, transport: AckSink) -> None:
        """The transport whose messages this pipeline acknowledges (see `AckSink`)."""
        self._transport = transport

    # -- intake -----------------------------------------------------------

    def handle(self, message: InboundMessage) -> None:
        """Take one message; never raises for bad input."""
        if self._batch_started is None:
            self._batch_started = self.monotonic_s()
        self._acks.append(message.ack)
        if message.topic.startswith(SERVICE_TOPIC_PREFIXES):
            return
        try:
            decoded = decode_message(
                message.topic, message.payload, message.received_ms, self.limits
            )
        except ContractError as exc:
            self._reject(message, str(exc))
            return
        except Exception as exc:  # a validator bug must not stop ingestion
            log.exception("unexpected error validating a message on %r", message.topic[:200])
            self._reject(message, f"internal validation error: {type(exc).__name__}")
            return
        if decoded.sample is not None:
            self._take_sample(decoded.sample, message)
        elif decoded.event is not None:
            self._take_event(decoded.event, message)
        elif decoded.status is not None:
            self._take_status(decoded.status, message.received_ms)

    def _reject(self, message: InboundMessage, reason: str) -> None:
        self._rejected.append(RejectedMessage(message.topic, message.payload, reason))
        self.metrics.dead_letters.inc(reason=reason_class(reason))

    def _state(self, device: DeviceRef) -> DeviceState:
        state = self._states.get(device.device_id)
        if state is None:
            state = DeviceState(device.device_id, device.site, device.building, device.kind)
            self._states[device.device_id] = state
        self._rows.changed(device.device_id)
        return state

    def _count(self, kind: str, channel: str) -> None:
        key = (kind, channel)
        self._ingested[key] = self._ingested.get(key, 0) + 1

    def _heard(self, device: DeviceRef, state: DeviceState, received_ms: int) -> None:
        """A device heard while offline, or first heard by this process, is online: record it.

        The KPI job reads liveness from `device_status` only, so without this a
        device back from silence would stay offline there, and one that never
        sends a status message would never appear.
        """
        if not state.online or state.last_seen_ms is None:
            self._points.append(status_point(StatusChange(device, True), received_ms))
        if not state.online:
            self._rows.liveness_changed(device.device_id)
        state.online = True

    def _take_sample(self, sample: Sample, message: InboundMessage) -> None:
        clash = self._recent_ts.clash(sample.device.device_id, sample.ts_ms, sample.seq)
        if clash is not None:
            self._reject(
                message,
                f"duplicate timestamp: ts {sample.ts_ms} of device {sample.device.device_id} "
                f"is already stored with seq {clash}, this sample has seq {sample.seq}; "
                "it would overwrite that sample: give each sample its own timestamp",
            )
            return
        received_ms = message.received_ms
        state = self._state(sample.device)
        self._heard(sample.device, state, received_ms)
        state.last_seen_ms = received_ms
        state.last_sample_ts_ms = max(state.last_sample_ts_ms or 0, sample.ts_ms)
        state.last_seq = sample.seq
        state.samples += 1
        point = sample_point(sample)
        self._sources[id(point)] = message
        self._points.append(point)
        self._sample_ts_ms.append(sample.ts_ms)
        self._count(sample.device.kind, "telemetry")
        self._lag_ms = received_ms - sample.ts_ms  # the gauge is set once per batch
        self._record(self._guarded(lambda: self.detectors.on_sample(sample)), received_ms)
        if self.verifier is not None:
            try:
                self.verifier.observe(sample)
            except Exception:  # verification must not stop ingestion
                log.exception("telemetry verification failed")

    def _take_event(self, event: Event, message: InboundMessage) -> None:
        received_ms = message.received_ms
        state = self._state(event.device)
        self._heard(event.device, state, received_ms)
        state.last_seen_ms = received_ms
        point = event_point(event)
        self._sources[id(point)] = message
        self._points.append(point)
        self._count(event.device.kind, "event")
        self._record(self._guarded(lambda: self.detectors.on_event(event)), received_ms)

    def _take_status(self, status: StatusChange, received_ms: int) -> None:
        state = self._state(status.device)
        if state.online != status.online:
            self._rows.liveness_changed(status.device.device_id)
        state.online = status.online
        state.last_seen_ms = received_ms
        self._points.append(status_point(status, received_ms))
        self._count(status.device.kind, "status")
        self._record(self._guarded(lambda: self.detectors.on_status(status)), received_ms)

    @staticmethod
    def _guarded(run: Callable[[], list[Finding]]) -> list[Finding]:
        try:
            return run()
        except Exception:  # a detector bug must not stop ingestion
            log.exception("detector failed")
            return []

    def _record(self, findings: list[Finding], now_ms: int) -> None:
        for finding in findings:
            self.metrics.findings.inc(detector=finding.detector)
            if self.worker:  # which worker judged the device, for audits of the topic split
                finding = replace(finding, evidence={**finding.evidence, "worker": self.worker})
            result = self.tickets.record(finding)
            if result.reopened:
                self.metrics.tickets_reopened.inc(kind=finding.device.kind)
                log.info("ticket %d reopened: %s", result.ticket_id, finding.summary)
            if result.opened:
                self.metrics.tickets_opened.inc(
                    kind=finding.device.kind, fault_type=finding.fault_type
                )
                self._points.append(ticket_point(finding, result.ticket_id, now_ms))
                log.info(
                    "ticket %d opened: %s %s: %s",
                    result.ticket_id,
                    finding.device.device_id,
                    finding.fault_type,
                    finding.summary,
                )

    # -- time and durability -------------------------------------------------

    def tick(self) -> None:
        """Time-driven work: offline detection by silence."""
        now = self.wall_clock_ms()
        findings = self._guarded(self.detectors.tick)
        for finding in findings:
            state = self._states.get(finding.device.device_id)
            if state is not None and finding.fault_type == "offline" and state.online:
                # Silence: record the change as the status channel would have.
                state.online = False
                self._rows.liveness_changed(state.device_id)
                self._points.append(status_point(StatusChange(finding.device, False), now))
                if self._batch_started is None:
                    self._batch_started = self.monotonic_s()
        self._record(findings, now)
        for breach in self.tickets.escalate_overdue():
            self.metrics.sla_breaches.inc(stage=breach.stage)
            log.warning(
                "ticket %d: %s deadline breached, escalated to %s",
                breach.ticket_id,
                breach.stage,
                breach.severity,
            )
        if self.verifier is not None:
            self.verifier.refresh()
        online = sum(1 for s in self._states.values() if s.online)
        self.metrics.devices_online.set(online)

    @property
    def pending(self) -> int:
        return len(self._acks)

    def _delay_s(self, writer_idle: bool) -> float:
        policy = self.policy
        return min(policy.min_delay_s, policy.max_delay_s) if writer_idle else policy.max_delay_s

    def flush_due(self, writer_idle: bool = False) -> bool:
        """`writer_idle`: nothing is being written, so the batch may leave at `min_delay_s`."""
        registry_due = self._rows.next_due
        if registry_due is not None and self.monotonic_s() >= registry_due:
            return True
        if not self._acks and not self._points:
            return False
        if len(self._points) >= self.policy.max_lines:
            return True
        started = self._batch_started or self.monotonic_s()
        return self.monotonic_s() - started >= self._delay_s(writer_idle)

    def seconds_until_due(self, writer_idle: bool = False) -> float:
        now = self.monotonic_s()
        registry_due = self._rows.next_due
        registry = math.inf if registry_due is None else registry_due - now
        delay_s = self._delay_s(writer_idle)
        if self._batch_started is None:
            return max(0.0, min(delay_s, registry))
        return max(0.0, min(delay_s - (now - self._batch_started), registry))

    @property
    def unsaved_devices(self) -> int:
        return len(self._rows)

    def take_batch(self, everything: bool = False) -> Batch:
        """Hand the current batch over (to a writer thread) and start a new one.
        `everything`: include every changed device, due or not (when stopping)."""
        if self._lag_ms is not None:
            self.metrics.lag.set(max(0.0, self._lag_ms / 1000))
            self._lag_ms = None
        batch = Batch(
            points=self._points,
            rejected=self._rejected,
            devices=self._rows.take_due(self._states, everything),
            acks=self._acks,
            ingested=self._ingested,
            sample_ts_ms=self._sample_ts_ms,
            sources=self._sources,
        )
        self._points, self._rejected, self._acks, self._ingested = [], [], [], {}
        self._sample_ts_ms, self._sources = [], {}
        self._batch_started = None
        return batch

    def _spool_gauges(self) -> None:
        assert self.spool is not None
        self.metrics.spool_points.set(self.spool.points)
        self.metrics.spool_bytes.set(self.spool.bytes)

    def _to_spool(self, batch: Batch) -> None:
        """Keep the batch's points on local disk, or raise StoreUnavailable when full."""
        assert self.spool is not None
        chunk = self.policy.max_lines
        while batch.points:
            if not self.spool.put(batch.points[:chunk]):
                raise StoreUnavailable(
                    f"store down and the spool is full ({self.spool.bytes} bytes at "
                    f"{self.spool.path}); holding messages unacknowledged"
                )
            self.metrics.spooled.inc(len(batch.points[:chunk]))
            del batch.points[:chunk]
        if self.spool.fill >= 0.8 and not self._spool_warned:
            self._spool_warned = True
            log.warning(
                "spool %.0f %% full (%d points, %d bytes of %d): raise "
                "FACMON_SPOOL_MAX_BYTES or bring the time-series store back",
                self.spool.fill * 100,
                self.spool.points,
                self.spool.bytes,
                self.spool.max_bytes,
            )

    def drain_spool(self, budget_s: float = SPOOL_REPLAY_BUDGET_S) -> None:
        """Write spooled points to the store, oldest first, for about `budget_s`.

        Called before every batch as well as when ingest is idle, so that the spool
        drains while live traffic flows instead of only once it stops. While the
        store stays down, attempts back off (0.5 s doubling to 10 s) instead of
        costing every batch a failed write.
        """
        spool = self.spool
        if spool is None or not spool.chunks or self.monotonic_s() < self._replay_after:
            return
        started = self.monotonic_s()
        while spool.chunks and self.monotonic_s() - started < budget_s:
            chunk_ids, points = spool.oldest(self.policy.max_lines)
            try:
                self.series.write(points)
            except StoreUnavailable as exc:
                self._replay_after = self.monotonic_s() + self._replay_backoff_s
                self._replay_backoff_s = min(self._replay_backoff_s * 2, 10.0)
                log.info("spool replay waits for the store (%d points held): %s", spool.points, exc)
                return
            except PointsRefused as exc:  # the rest of the chunk was stored
                self._dead_letter_spooled(exc.refused)
            spool.remove(chunk_ids)
            self.metrics.spool_replayed.inc(len(points))
            self._replay_backoff_s = 0.5
            if self._drain_started is None:
                self._drain_started = started  # the store took the first chunk back
        if not spool.chunks:
            drain_s = self.monotonic_s() - (self._drain_started or started)
            self.metrics.spool_drain_seconds.observe(drain_s)
            self._drain_started = None
            self._spool_warned = False
            log.info(
                "spool drained in %.1f s: the time-series store has every spooled point", drain_s
            )

    def _dead_letter_spooled(self, refused: list[tuple[Point, str]]) -> None:
        """Spooled points keep no message: a refused one is kept as its text."""
        log.warning(
            "time-series store refused %d spooled point(s): %s", len(refused), refused[0][1]
        )
        self.dead_letters.add_many(
            [
                RejectedMessage(f"(spooled point) {point.measurement}", repr(point).encode(), why)
                for point, why in refused
            ]
        )
        for _, why in refused:
            self.metrics.dead_letters.inc(reason=reason_class(why))

    def write_batch(self, batch: Batch) -> None:
        """Make the batch durable, then acknowledge it. Raises StoreUnavailable to retry;
        what was already written is skipped on the retry. With a spool, durable may mean
        on local disk while the store is down."""
        started = self.monotonic_s()
        if self.spool is not None and self.spool.chunks:
            self.drain_spool()  # live traffic must not keep the spool from draining
            if self.spool.chunks:
                self._to_spool(batch)  # keep arrival order behind what is still spooled
        chunk = self.policy.max_lines
        while batch.points:
            try:
                self.series.write(batch.points[:chunk])
            except StoreUnavailable as exc:
                self.metrics.write_errors.inc()
                if self.spool is None:
                    raise
                if not self.spool.chunks:
                    log.warning(
                        "time-series store unavailable, spooling to %s: %s", self.spool.path, exc
                    )
                self._to_spool(batch)
                break
            except PointsRefused as exc:
                # The rest is stored; the refused points cannot be, however often retried.
                self._dead_letter_refused(batch, exc.refused)
            del batch.points[:chunk]
        if batch.rejected:
            self.dead_letters.add_many(batch.rejected)
            batch.rejected = []
        if batch.devices:
            self.devices.save(batch.devices)
            batch.devices = []
        self.metrics.write_seconds.observe(self.monotonic_s() - started)
        for ack in batch.acks:
            ack()
        self._transport.flush_acks()
        self.metrics.observe_durable(self.wall_clock_ms(), batch.sample_ts_ms)
        batch.sample_ts_ms = []
        for (kind, channel), count in batch.ingested.items():
            self.metrics.ingested.inc(count, kind=kind, channel=channel)
        batch.acks, batch.ingested = [], {}
        self.metrics.batches.inc()

    def _dead_letter_refused(self, batch: Batch, refused: list[tuple[Point, str]]) -> None:
        """Each point the store refused becomes its message's dead letter, with the reason."""
        log.warning("time-series store refused %d point(s): %s", len(refused), refused[0][1])
        for point, reason in refused:
            source = batch.sources.get(id(point))
            if source is None:  # a point the service made (status, ticket): keep it as text
                letter = RejectedMessage(
                    f"(service point) {point.measurement}", repr(point).encode(), reason
                )
            else:
                letter = RejectedMessage(source.topic, source.payload, reason)
            batch.rejected.append(letter)
            self.metrics.dead_letters.inc(reason=reason_class(reason))

    def flush(self) -> None:
        """Take and write the current batch, and every changed device, in the caller's thread."""
        self.write_batch(self.take_batch(everything=True))
