"""Detection: each message handed to its device's detectors, and time-driven checks.

A detector or verification bug is logged and costs that finding, never ingestion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from contract.finding import Finding
from contract.payload import Event, Sample, StatusChange
from detectors.registry import DetectorBank
from quality.verification import TelemetryVerifier

log = logging.getLogger(__name__)


def _guarded(run: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return run()
    except Exception:  # a detector bug must not stop ingestion
        log.exception("detector failed")
        return []


class Detection:
    def __init__(self, detectors: DetectorBank, verifier: TelemetryVerifier | None) -> None:
        self.detectors = detectors
        self.verifier = verifier

    def sample(self, sample: Sample) -> list[Finding]:
        try:
            return self.detectors.on_sample(sample)
        except Exception:  # a detector bug must not stop ingestion
            log.exception("detector failed")
            return []

    def verify(self, sample: Sample) -> None:
        """Verification by telemetry: a sample may show a rectified fault is gone."""
        if self.verifier is not None:
            try:
                self.verifier.observe(sample)
            except Exception:  # verification must not stop ingestion
                log.exception("telemetry verification failed")

    def event(self, event: Event) -> list[Finding]:
        return _guarded(lambda: self.detectors.on_event(event))

    def status(self, status: StatusChange) -> list[Finding]:
        return _guarded(lambda: self.detectors.on_status(status))

    def tick(self) -> list[Finding]:
        """Findings by the passage of time: offline by silence, above all."""
        return _guarded(self.detectors.tick)

    def refresh(self) -> None:
        """Let verification look at the tickets waiting for re-check."""
        if self.verifier is not None:
            self.verifier.refresh()
