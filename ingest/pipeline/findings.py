"""Recording findings: each becomes a quality ticket (opened, added to, or reopened),
with its metrics, its log line and, for a new ticket, a `tickets` point.

A message's findings are recorded before the message's batch is handed to the writer,
so its acknowledgement waits until both the sample and its finding are durable.
Findings by the passage of time (offline by silence) belong to no message: they wait
in a backlog and are recorded a chunk per transaction between reads of messages, so a
storm of them (every device of a site offline at once) does not hold up ingestion.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace

from contract.finding import Finding
from ingest.pipeline.batching import Batch
from ingest.pipeline.points import ticket_point
from observability.metrics import IngestMetrics
from quality.maintenance.desk import MaintenanceDesk
from quality.tickets import TicketStore

log = logging.getLogger(__name__)

# Findings recorded per transaction from the backlog: one commit for many, and the
# intake back to its messages after each chunk.
BACKLOG_CHUNK = 25


class FindingRecorder:
    def __init__(
        self,
        tickets: TicketStore,
        metrics: IngestMetrics,
        worker: str | None,
        chunk: int = BACKLOG_CHUNK,
    ) -> None:
        self.tickets = tickets
        self.metrics = metrics
        self.worker = worker
        self.chunk = chunk
        self._backlog: deque[tuple[Finding, int]] = deque()
        # Planned maintenance: findings on a device being maintained open no ticket.
        self.maintenance: MaintenanceDesk | None = None

    def record(self, findings: list[Finding], now_ms: int, batch: Batch) -> None:
        """Record a message's findings now, ticket points into `batch`."""
        if findings:
            self._record([(finding, now_ms) for finding in findings], batch)

    def defer(self, findings: list[Finding], now_ms: int) -> None:
        """Findings that no acknowledgement waits for: into the backlog."""
        self._backlog.extend((finding, now_ms) for finding in findings)

    @property
    def waiting(self) -> int:
        return len(self._backlog)

    def record_backlog(self, batch: Batch) -> None:
        """Record the backlog's oldest chunk in one transaction. If that fails, the chunk
        stays in the backlog, and the error goes to the caller."""
        chunk = [self._backlog.popleft() for _ in range(min(self.chunk, len(self._backlog)))]
        try:
            self._record(chunk, batch)
        except Exception:
            self._backlog.extendleft(reversed(chunk))
            raise

    def _record(self, items: list[tuple[Finding, int]], batch: Batch) -> None:
        if self.maintenance is not None:  # kept as suppressed on the work order instead
            items = [item for item in items if not self.maintenance.suppress(*item)]
        if not items:
            return
        findings = [self._stamped(finding) for finding, _ in items]
        if len(findings) == 1:
            results = [self.tickets.record(findings[0])]
        else:
            results = self.tickets.record_many(findings)
        for finding, (_, now_ms), result in zip(findings, items, results, strict=True):
            self.metrics.findings.inc(detector=finding.detector)
            if result.reopened:
                self.metrics.tickets_reopened.inc(kind=finding.device.kind)
                log.info("ticket %d reopened: %s", result.ticket_id, finding.summary)
            if result.opened:
                self.metrics.tickets_opened.inc(
                    kind=finding.device.kind, fault_type=finding.fault_type
                )
                batch.points.append(ticket_point(finding, result.ticket_id, now_ms))
                log.info(
                    "ticket %d opened: %s/%s %s: %s",
                    result.ticket_id,
                    finding.device.site,
                    finding.device.device_id,
                    finding.fault_type,
                    finding.summary,
                )

    def _stamped(self, finding: Finding) -> Finding:
        if self.worker:  # which worker judged the device, for audits of the topic split
            return replace(finding, evidence={**finding.evidence, "worker": self.worker})
        return finding

    def escalate_overdue(self) -> None:
        """Tickets past a deadline move up a severity (SLA policy); maintenance work orders
        are opened when due."""
        if self.maintenance is not None:
            self.maintenance.tick()
        for breach in self.tickets.escalate_overdue():
            self.metrics.sla_breaches.inc(stage=breach.stage)
            log.warning(
                "ticket %d: %s deadline breached, escalated to %s",
                breach.ticket_id,
                breach.stage,
                breach.severity,
            )
