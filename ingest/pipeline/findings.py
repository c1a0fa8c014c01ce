"""Recording findings: each becomes a quality ticket (opened, added to, or reopened),
with its metrics, its log line and, for a new ticket, a `tickets` point."""

from __future__ import annotations

import logging
from dataclasses import replace

from contract.finding import Finding
from ingest.pipeline.batching import Batch
from ingest.pipeline.points import ticket_point
from observability.metrics import IngestMetrics
from quality.tickets import TicketStore

log = logging.getLogger(__name__)


class FindingRecorder:
    def __init__(self, tickets: TicketStore, metrics: IngestMetrics, worker: str | None) -> None:
        self.tickets = tickets
        self.metrics = metrics
        self.worker = worker

    def record(self, findings: list[Finding], now_ms: int, batch: Batch) -> None:
        """Record each finding now, in its own transaction."""
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
                batch.points.append(ticket_point(finding, result.ticket_id, now_ms))
                log.info(
                    "ticket %d opened: %s %s: %s",
                    result.ticket_id,
                    finding.device.device_id,
                    finding.fault_type,
                    finding.summary,
                )

    def escalate_overdue(self) -> None:
        """Tickets past a deadline move up a severity (SLA policy)."""
        for breach in self.tickets.escalate_overdue():
            self.metrics.sla_breaches.inc(stage=breach.stage)
            log.warning(
                "ticket %d: %s deadline breached, escalated to %s",
                breach.ticket_id,
                breach.stage,
                breach.severity,
            )
