"""Decode and validate: a message becomes a `Sample`, `Event` or `StatusChange`, or a
dead letter with its reason. Never raises for bad input."""

from __future__ import annotations

import logging

from contract.payload import DEFAULT_LIMITS, DecodedMessage, TimeLimits, decode_message
from contract.topics import SERVICE_TOPIC_PREFIXES, ContractError
from ingest.ledger_gate import LedgerGate, unknown_device_reason
from ingest.pipeline.batching import Batch
from ingest.pipeline.messages import InboundMessage
from ingest.recent_timestamps import RecentTimestamps
from observability.metrics import IngestMetrics
from storage.dead_letters import RejectedMessage

log = logging.getLogger(__name__)


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
        ("unknown device", "unknown_device"),
        ("unknown metric", "schema"),
        ("missing", "schema"),
    ):
        if needle in reason:
            return label
    return "other"


def reject(batch: Batch, metrics: IngestMetrics, message: InboundMessage, reason: str) -> None:
    """Keep the message as a dead letter of the batch, with its reason."""
    batch.rejected.append(RejectedMessage(message.topic, message.payload, reason))
    metrics.dead_letters.inc(reason=reason_class(reason))


class Decoder:
    """The contract applied to one message, plus what only ingest can see: a sample
    whose timestamp its device already used for another sample."""

    def __init__(
        self,
        metrics: IngestMetrics,
        limits: TimeLimits = DEFAULT_LIMITS,
        ledger: LedgerGate | None = None,
    ) -> None:
        self.metrics = metrics
        self.limits = limits
        # None: every device is admitted (no ledger to consult: tests, benches)
        self.ledger = ledger
        self._recent_ts = RecentTimestamps()

    def decode(self, message: InboundMessage, batch: Batch) -> DecodedMessage | None:
        """The decoded message, or None: the service's own topic, or a dead letter (kept
        in `batch`)."""
        if message.topic.startswith(SERVICE_TOPIC_PREFIXES):
            return None
        try:
            decoded = decode_message(
                message.topic, message.payload, message.received_ms, self.limits
            )
        except ContractError as exc:
            reject(batch, self.metrics, message, str(exc))
            return None
        except Exception as exc:  # a validator bug must not stop ingestion
            log.exception("unexpected error validating a message on %r", message.topic[:200])
            reject(batch, self.metrics, message, f"internal validation error: {type(exc).__name__}")
            return None
        if self.ledger is not None:
            found = decoded.sample or decoded.event or decoded.status
            if found is not None and not self.ledger.admit(found.device):
                reject(batch, self.metrics, message, unknown_device_reason(found.device))
                return None
        sample = decoded.sample
        if sample is not None:
            device = sample.device
            clash = self._recent_ts.clash((device.site, device.device_id), sample.ts_ms, sample.seq)
            if clash is not None:
                reject(
                    batch,
                    self.metrics,
                    message,
                    f"duplicate timestamp: ts {sample.ts_ms} of device {device.device_id} "
                    f"is already stored with seq {clash}, this sample has seq {sample.seq}; "
                    "it would overwrite that sample: give each sample its own timestamp",
                )
                return None
        return decoded
