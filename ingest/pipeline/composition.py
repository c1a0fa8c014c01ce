"""The ingest pipeline: its parts composed in one place, and the walk of one message.

Each part has one job: `Decoder` (decode and validate), `Liveness`, `Batcher`
(batching), `Durability` (store, spool, acknowledge once durable), `Detection`
(the detector bank) and `FindingRecorder` (findings become tickets). This class only
says in which order a message meets them; time-driven work (`tick`) and the writer
thread's side (`take_batch`, `write_batch`) read the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from contract.payload import DEFAULT_LIMITS, TimeLimits
from detectors.registry import DetectorBank
from ingest.device_registry import DeviceRegistry
from ingest.ledger_gate import LedgerGate
from ingest.pipeline.batching import DEFAULT_POLICY, Batch, Batcher, BatchPolicy
from ingest.pipeline.decoding import Decoder
from ingest.pipeline.detection import Detection
from ingest.pipeline.durability import SPOOL_REPLAY_BUDGET_S, Durability
from ingest.pipeline.findings import FindingRecorder
from ingest.pipeline.liveness import Liveness
from ingest.pipeline.messages import AckSink, InboundMessage
from ingest.pipeline.points import event_point, sample_point
from ingest.spool import Spool
from observability.metrics import IngestMetrics
from quality.tickets import TicketStore
from quality.verification import TelemetryVerifier
from storage.dead_letters import DeadLetterStore
from storage.timeseries import SeriesStore
from storage.write_health import HealthTrackedStore


class IngestPipeline:
    """Transport-free: messages carry their own `ack`, so the same code runs behind
    Mosquitto, the embedded broker, or a test feeding messages by hand."""

    def __init__(
        self,
        series: SeriesStore,
        tickets: TicketStore,
        dead_letters: DeadLetterStore,
        devices: DeviceRegistry,
        detectors: DetectorBank,
        metrics: IngestMetrics,
        limits: TimeLimits = DEFAULT_LIMITS,
        policy: BatchPolicy = DEFAULT_POLICY,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic_s: Callable[[], float] = time.monotonic,
        verifier: TelemetryVerifier | None = None,
        spool: Spool | None = None,
        worker: str | None = None,
        ledger: LedgerGate | None = None,
    ) -> None:
        self.metrics = metrics
        self.policy = policy
        self.spool = spool
        self.wall_clock_ms = wall_clock_ms
        # Every write reports to the health check: failing longer than a few batch
        # delays turns /healthz degraded.
        metrics.write_health.degraded_after_s = max(3 * policy.max_delay_s, 1.0)
        self.decoder = Decoder(metrics, limits, ledger)
        self.liveness = Liveness(policy.registry_refresh_s, monotonic_s)
        self.batching = Batcher(policy, monotonic_s)
        self.detection = Detection(detectors, verifier)
        self.findings = FindingRecorder(tickets, metrics, worker)
        self.durability = Durability(
            HealthTrackedStore(series, metrics.write_health),
            dead_letters,
            devices,
            metrics,
            policy,
            spool,
            wall_clock_ms,
            monotonic_s,
        )

    def connect(self, transport: AckSink) -> None:
        """The transport whose messages this pipeline acknowledges (see `AckSink`)."""
        self.durability.transport = transport

    # -- the intake thread: one message at a time ---------------------------------------

    def handle(self, message: InboundMessage) -> None:
        """Take one message; never raises for bad input. Its acknowledgement waits in the
        batch until the batch is durable, whatever becomes of the message."""
        batch = self.batching.open()
        batch.acks.append(message.ack)
        decoded = self.decoder.decode(message, batch)
        if decoded is None:  # a dead letter, or the service's own topic
            return
        received_ms = message.received_ms
        sample = decoded.sample
        if sample is not None:
            self.liveness.sample(sample, received_ms, batch)
            point = sample_point(sample)
            batch.sources[id(point)] = message
            batch.points.append(point)
            batch.sample_ts_ms.append(sample.ts_ms)
            batch.count(sample.device.kind, "telemetry")
            self.batching.lag_ms = received_ms - sample.ts_ms  # a gauge, set once per batch
            findings = self.detection.sample(sample)
            if findings:
                self.findings.record(findings, received_ms, batch)
            self.detection.verify(sample)
        elif decoded.event is not None:
            event = decoded.event
            self.liveness.event(event, received_ms, batch)
            point = event_point(event)
            batch.sources[id(point)] = message
            batch.points.append(point)
            batch.count(event.device.kind, "event")
            self.findings.record(self.detection.event(event), received_ms, batch)
        elif decoded.status is not None:
            status = decoded.status
            self.liveness.status(status, received_ms, batch)
            batch.count(status.device.kind, "status")
            self.findings.record(self.detection.status(status), received_ms, batch)

    def tick(self) -> None:
        """Time-driven work: devices new to the ledger registered, offline detection by
        silence, SLA escalation, verification.
        Its findings wait in a backlog that `record_findings` works off."""
        now_ms = self.wall_clock_ms()
        if self.decoder.ledger is not None:
            self.decoder.ledger.tick()
        findings = self.detection.tick()
        if self.liveness.silent(findings, now_ms, self.batching.current):
            self.batching.open()
        self.findings.defer(findings, now_ms)
        self.record_findings()
        self.findings.escalate_overdue()
        self.detection.refresh()
        self.metrics.devices_online.set(self.liveness.online())

    @property
    def findings_waiting(self) -> int:
        return self.findings.waiting

    def record_findings(self) -> None:
        """Record one chunk of the findings backlog (see `FindingRecorder`), between reads."""
        if self.findings.waiting:
            batch = self.batching.current
            points = len(batch.points)
            self.findings.record_backlog(batch)
            if len(batch.points) > points:  # ticket points: the batch's clock starts
                self.batching.open()

    # -- batching: when the gathered batch goes to the writer ---------------------------

    @property
    def pending(self) -> int:
        return self.batching.pending

    @property
    def unsaved_devices(self) -> int:
        return self.liveness.unsaved

    def flush_due(self, writer_idle: bool = False) -> bool:
        """`writer_idle`: nothing is being written, so the batch may leave at `min_delay_s`."""
        return self.batching.due(writer_idle, self.liveness.next_due)

    def seconds_until_due(self, writer_idle: bool = False) -> float:
        return self.batching.seconds_until_due(writer_idle, self.liveness.next_due)

    def take_batch(self, everything: bool = False) -> Batch:
        """Hand the current batch over (to a writer thread) and start a new one.
        `everything`: include every changed device, due or not (when stopping)."""
        if self.batching.lag_ms is not None:
            self.metrics.lag.set(max(0.0, self.batching.lag_ms / 1000))
            self.batching.lag_ms = None
        return self.batching.take(self.liveness.take_due(everything))

    # -- the writer thread: durable, then acknowledged ----------------------------------

    def write_batch(self, batch: Batch) -> None:
        """Make the batch durable, then acknowledge it (see `Durability.write`)."""
        self.durability.write(batch)

    def drain_spool(self, budget_s: float = SPOOL_REPLAY_BUDGET_S) -> None:
        self.durability.drain_spool(budget_s)

    def flush(self) -> None:
        """Record every finding waiting, then take and write the current batch and every
        changed device, in the caller's thread."""
        while self.findings.waiting:
            self.record_findings()
        self.write_batch(self.take_batch(everything=True))
