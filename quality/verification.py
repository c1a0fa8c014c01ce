"""Verification by telemetry: after `rectified`, the detector that raised the ticket must
see the device behave normally for the whole verification window.

Normal is the detector's own decision (`fault_active() is False`) on samples
taken after the rectification. A sample on which the fault holds restarts the
window; the detector's finding then reopens the ticket through the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from contract.clock import to_ms
from contract.payload import Sample
from contract.topics import DeviceRef
from quality.tickets import incidents
from quality.tickets.lifecycle import State
from quality.tickets.models import aware
from quality.tickets.store import TicketStore

log = logging.getLogger(__name__)


class FaultJudge(Protocol):
    """What verification asks of a device's detector (`detectors.base.Detector` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def fault_active(self) -> bool | None: ...

    def relearn(self, now_ms: int) -> None: ...


class JudgeFinder(Protocol):
    """The detector that judges a fault type on a device (`detectors.registry.DetectorBank`
    is one): declared here so that the quality loop does not depend on the detectors."""

    def detector(self, device: DeviceRef, fault_type: str) -> FaultJudge | None: ...


@dataclass(slots=True)
class Watch:
    ticket_id: int
    fault_type: str
    rectified_ms: int
    normal_since_ms: int | None = None
    normal_samples: int = 0
    # The judgement last written to the ticket's re-check status (None: none yet).
    reported: bool | None = None


class TelemetryVerifier:
    def __init__(self, tickets: TicketStore, detectors: JudgeFinder) -> None:
        self.tickets = tickets
        self.detectors = detectors
        self.window_ms = int(tickets.policy.verification_window.total_seconds() * 1000)
        # by (site, device_id): door-1 of another site is another device
        self._watch: dict[tuple[str, str], list[Watch]] = {}
        self.verified: list[int] = []

    def refresh(self) -> None:
        """Pick up tickets that became rectified (through the API, maybe in another process)."""
        current: dict[tuple[str, str], list[Watch]] = {}
        for ticket in self.tickets.in_state(State.RECTIFIED):
            key = (ticket.site, ticket.device_id)
            known = next((w for w in self._watch.get(key, []) if w.ticket_id == ticket.id), None)
            rectified = aware(ticket.rectified_at)
            watch = known or Watch(
                ticket.id, ticket.fault_type, to_ms(rectified) if rectified else 0
            )
            current.setdefault(key, []).append(watch)
        self._watch = current

    def observe(self, sample: Sample) -> None:
        if not self._watch:  # the common case: no rectified ticket waits for telemetry
            return
        device = sample.device
        watches = self._watch.get((device.site, device.device_id))
        if not watches:
            return
        for watch in list(watches):
            if sample.ts_ms < watch.rectified_ms:
                continue
            detector = self.detectors.detector(sample.device, watch.fault_type)
            state = detector.fault_active() if detector else None
            if state is None:
                continue
            if watch.reported is not state:
                # Each change of judgement is recorded, so that verifying or closing by
                # hand while the fault shows asks for confirmation (quality.tickets.recheck).
                assert detector is not None
                self.tickets.record_recheck(watch.ticket_id, state, sample.ts_ms, detector.name)
                watch.reported = state
            if state:
                watch.normal_since_ms = None
                watch.normal_samples = 0
                continue
            if watch.normal_since_ms is None:
                watch.normal_since_ms = sample.ts_ms
            watch.normal_samples += 1
            if sample.ts_ms - watch.normal_since_ms < self.window_ms:
                continue
            assert detector is not None
            evidence = {
                "detector": detector.name,
                "version": detector.version,
                "window_start_ms": watch.normal_since_ms,
                "window_end_ms": sample.ts_ms,
                "window_s": self.window_ms / 1000,
                "normal_samples": watch.normal_samples,
            }
            if self.tickets.verify_by_telemetry(watch.ticket_id, evidence) is not None:
                log.info(
                    "ticket %d verified by telemetry: %d normal samples over %.0f s",
                    watch.ticket_id,
                    watch.normal_samples,
                    self.window_ms / 1000,
                )
                self.verified.append(watch.ticket_id)
                self._relearn(sample.device, watch.fault_type, sample.ts_ms)
            watches.remove(watch)

    def _relearn(self, device: DeviceRef, fault_type: str, now_ms: int) -> None:
        """A verified repair is the explicit rule for re-learning normal: every detector
        of the incident (`quality.tickets.incidents`) learns the repaired device afresh,
        so a new bearing is not judged against the worn one's baseline."""
        for joined in sorted(incidents.joinable(device.kind, fault_type)):
            judge = self.detectors.detector(device, joined)
            if judge is not None:
                judge.relearn(now_ms)
